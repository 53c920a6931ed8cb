import Testing

@testable import RemitEngine

@Suite struct DLPScannerTests {
  let all = DLPScanner(builtins: Set(DLPDetector.allCases), custom: [])

  func scan(_ text: String, _ scanner: DLPScanner? = nil, limit: Int = 64) -> [DLPMatch] {
    (scanner ?? all).scan(Array(text.utf8), limit: limit)
  }

  /// The detector ids found and the exact matched text (tests may look; findings never carry it).
  func found(_ text: String) -> [String] {
    let bytes = Array(text.utf8)
    return scan(text).map { "\($0.detector):" + String(decoding: bytes[$0.offset..<$0.end], as: UTF8.self) }
  }

  @Test func offsetsAndLengthsAreBytesOfTheScannedBuffer() {
    // "é" and "€" take 2 and 3 bytes: offsets count bytes, not characters.
    let text = "é€ card 4111 1111 1111 1111, mail x@example.org"
    let matches = scan(text)
    #expect(
      matches == [
        DLPMatch(detector: "credit_card", offset: 11, length: 19),
        DLPMatch(detector: "email", offset: 37, length: 13),
      ])
  }

  @Test(arguments: [
    ("4111111111111111", "credit_card:4111111111111111"),
    ("x 4111-1111-1111-1111.", "credit_card:4111-1111-1111-1111"),
    ("3782 822463 10005", "credit_card:3782 822463 10005"),
    ("SSN 078-05-1120!", "us_ssn:078-05-1120"),
    ("ssn=078051120", "us_ssn:078051120"),
    ("IBAN: DE89 3704 0044 0532 0130 00.", "iban:DE89 3704 0044 0532 0130 00"),
    ("<a@b.example.com>", "email:a@b.example.com"),
    ("end of sentence x.y@mail.example.org.", "email:x.y@mail.example.org"),
    ("call (415) 555-2671 now", "phone:(415) 555-2671"),
    ("call +1 (415) 555-2671", "phone:+1 (415) 555-2671"),
    ("tel:+442079460958;", "phone:+442079460958"),
    ("id=AKIAQWERTYUIOPASDFGH", "aws_access_key:AKIAQWERTYUIOPASDFGH"),
    ("ghp_0123456789abcdefghijABCDEFGHIJklmnop", "github_token:ghp_0123456789abcdefghijABCDEFGHIJklmnop"),
    ("AIzaSyA-1234567890abcdefghijklmnopqrstu", "google_api_key:AIzaSyA-1234567890abcdefghijklmnopqrstu"),
  ])
  func detectorsFindExactlyTheValue(_ text: String, _ expected: String) {
    #expect(found(text) == [expected])
  }

  @Test func phoneNumbersWithAGluedExtension() {
    #expect(found("call 415-555-2671x1234 today") == ["phone:415-555-2671x1234"])
    #expect(found(#"{"tel":"415.555.2671X9"}"#) == ["phone:415.555.2671X9"])
    // Not an extension: too many digits, a word after it, or not a NANP number before it.
    #expect(found("415-555-2671x1234567") == [])
    #expect(found("415-555-2671xray") == [])
    #expect(found("115-555-2671x12") == [])
  }

  @Test func spaceSeparatedListsAreSplit() {
    #expect(
      found("4111111111111111 4012888888881881 2029") == [
        "credit_card:4111111111111111", "credit_card:4012888888881881",
      ])
    #expect(found("1234 5678 4111 1111 1111 1111") == ["credit_card:4111 1111 1111 1111"])
    #expect(found("ssn 078 05 1120 12") == ["us_ssn:078 05 1120"])
  }

  @Test func shortNumbersAndDatesAreSkippedButLongOnesAreNot() {
    #expect(scan(#"{"id":17,"n":211,"at":"2026-11-23T10:44:00Z","v":"1.2.3","p":417.32}"#).isEmpty)
    #expect(found(#"{"n":4111111111111111}"#) == ["credit_card:4111111111111111"])
    #expect(found(#"{"n":"415.555.2671"}"#) == ["phone:415.555.2671"])
    #expect(found("[078-05-1120]") == ["us_ssn:078-05-1120"])
  }

  @Test func onlyEnabledDetectorsRun() {
    let cardsOnly = DLPScanner(builtins: [.creditCard], custom: [])
    let text = "4111111111111111 jane@example.com 078-05-1120"
    #expect(scan(text, cardsOnly).map(\.detector) == ["credit_card"])
    let none = DLPScanner(builtins: [], custom: [])
    #expect(none.isEmpty)
    #expect(scan(text, none).isEmpty)
    #expect(!cardsOnly.isEmpty)
    #expect(cardsOnly.isEnabled(.creditCard) && !cardsOnly.isEnabled(.email))
  }

  @Test func theLimitCapsTheTotalInTheArray() {
    let text = (0..<10).map { "u\($0)@example.com" }.joined(separator: " ")
    #expect(scan(text, limit: 3).count == 3)
    #expect(scan(text, limit: 3).map(\.offset) == scan(text).prefix(3).map(\.offset))
    #expect(scan(text).count == 10)
    var matches = [DLPMatch(detector: "earlier", offset: 0, length: 1)]
    Array(text.utf8).withUnsafeBufferPointer { all.scan($0, into: &matches, limit: 4) }
    #expect(matches.count == 4)
    #expect(matches[0].detector == "earlier")
    Array(text.utf8).withUnsafeBufferPointer { all.scan($0, into: &matches, limit: 4) }
    #expect(matches.count == 4)  // already full: nothing appended
  }

  @Test func matchesComeInOffsetOrderAndNeverOverlap() {
    let text =
      #"{"token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "n": "4111111111111111"}"#
    let matches = scan(text)
    // The JWT replaces the generic_secret on the same bytes.
    #expect(matches.map(\.detector) == ["jwt", "credit_card"])
    #expect(zip(matches, matches.dropFirst()).allSatisfy { $0.end <= $1.offset })
  }

  @Test func specificDetectorsWinOverGenericSecret() {
    #expect(found("GITHUB_TOKEN=ghp_0123456789abcdefghijABCDEFGHIJklmnop").map { $0.prefix(13) } == ["github_token:"])
    #expect(found(#"{"password": "Zx8Kq2Lm9Pw4Rt6Yb3Nc"}"#) == ["generic_secret:Zx8Kq2Lm9Pw4Rt6Yb3Nc"])
  }

  @Test(arguments: [
    "4111111111111112",  // Luhn
    "41111111111111111111",  // 20 digits
    "4111-1111-1111-1111-1111",  // too long
    "0.4111111111111111",  // decimal
    "a4111111111111111",  // glued to a word
    "4111 11 111111 1111",  // no card grouping
    "000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "123-45-0000",  // SSN ranges
    "123456789",  // bare nine digits without a keyword
    "123-45-6789-0",  // longer
    "GB82 WEST 1234 5698 7654 33",  // mod-97
    "GB82WEST123456987654",  // too short for GB
    "(123) 555-2671", "415-055-2671", "415-555-267",  // NANP rules and shape
    "+0 415 555 2671", "+1 123 555 2671", "+12345",  // E.164
    "AKIAIOSFODNN7EXAMPLE",  // AWS documentation key
    "AKIA0123456789ABCDEF",  // 0, 1, 8, 9 are not base32
    "xAKIAQWERTYUIOPASDFGH",  // glued
    "ghp_0123456789abcdefghijABCDEFGHIJklmno",  // 35
    "-----BEGIN PUBLIC KEY-----",
    "eyJmb28iOiJiYXIifQ.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2lnbmF0dXJl",  // header has no alg
    "user@localhost", "icon@2x.png", "@mention",
  ])
  func nearMissesAreClean(_ text: String) {
    #expect(scan(text).isEmpty, "\(found(text))")
  }

  @Test func escapedAndDecodedTextBothWork() {
    // The integrator scans decoded JSON strings too: plain text with no JSON around it.
    #expect(found("4111111111111111") == ["credit_card:4111111111111111"])
    #expect(found(#"{\"api_key\": \"Zx8Kq2Lm9Pw4Rt6Yb3Nc\"}"#) == ["generic_secret:Zx8Kq2Lm9Pw4Rt6Yb3Nc"])
  }

  @Test func privateKeysCoverTheWholeBlock() {
    let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"
    let text = "x \(pem) y"
    #expect(scan(text) == [DLPMatch(detector: "private_key", offset: 2, length: pem.utf8.count)])
    // Without an END line only the BEGIN line is reported.
    #expect(found("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA") == ["private_key:-----BEGIN OPENSSH PRIVATE KEY-----"])
  }

  @Test func jwtHeaderMustDecodeToJSONWithAlg() {
    let header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"  // {"alg":"HS256","typ":"JWT"}
    let token = "\(header).eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
    #expect(found("Bearer \(token)") == ["jwt:\(token)"])
    #expect(scan("Bearer \(header).eyJzdWIiOiIxMjM0NTY3ODkwIn0.short").isEmpty)
  }

  @Test func genericSecretNeedsASecretKeyAndEntropy() {
    #expect(found("token=Zx8Kq2Lm9Pw4Rt6Yb3Nc&x=1") == ["generic_secret:Zx8Kq2Lm9Pw4Rt6Yb3Nc"])
    #expect(found("export AWS_SECRET_ACCESS_KEY='Zx8Kq2Lm9Pw4Rt6Yb3NcQ'") == ["generic_secret:Zx8Kq2Lm9Pw4Rt6Yb3NcQ"])
    #expect(found("password: Zx8Kq2Lm9Pw4Rt6Yb3Nc") == ["generic_secret:Zx8Kq2Lm9Pw4Rt6Yb3Nc"])
    #expect(scan("username=Zx8Kq2Lm9Pw4Rt6Yb3Nc").isEmpty)  // not a secret key
    #expect(scan("token=abcdefghijklmnopqrstuvwxyz").isEmpty)  // one character class
    #expect(scan("token=Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1").isEmpty)  // low entropy
    #expect(scan("token=${GITHUB_TOKEN_FROM_ENV}").isEmpty)
    #expect(scan(#"{"secret": "<REDACTED-SECRET-VALUE-123>"}"#).isEmpty)
    #expect(scan("max_tokens=40960000000000000000").isEmpty)
    // Placeholder markers count only inside the value.
    #expect(found(#"{"token": "Zx8Kq2Lm9Pw4Rt6Yb3Nc", "note": "example"}"#) == ["generic_secret:Zx8Kq2Lm9Pw4Rt6Yb3Nc"])
    #expect(scan(#"{"token": "Zx8Kq2Lm9Pw4Rt6Yb3Nc-example"}"#).isEmpty)
  }

  @Test func slackAndStripeAndAIKeys() {
    let slack = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
    #expect(found("t=\(slack)") == ["slack_token:\(slack)"])
    let hook = "https://hooks.slack.com/services/T01234567/B0123456789/AbCdEfGhIjKlMnOpQrStUvWx"
    #expect(found("url \(hook) end") == ["slack_token:\(hook)"])
    let stripe = "sk_live_" + String(repeating: "aB3", count: 9)
    #expect(found(stripe) == ["stripe_key:\(stripe)"])
    let openai =
      "sk-" + String(repeating: "a", count: 10) + "B1cD2eF3gH" + "T3BlbkFJ" + String(repeating: "z9", count: 10)
    #expect(found(openai) == ["openai_key:\(openai)"])
    let anthropic = "sk-ant-api03-" + String(repeating: "Ab1-", count: 20)
    #expect(found(anthropic) == ["anthropic_key:\(anthropic)"])
  }
}
