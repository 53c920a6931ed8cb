import Testing

@testable import RemitEngine

/// The header facts found in one pass must be what the dictionary lookups they replace give.
@Suite struct HeaderFactsTests {
  static let names = [
    "content-type", "content-encoding", "content-length", "x-envoy-auth-partial-body",
    "x-http-method-override", "x-http-method", "x-method-override", "x-remit-delegation-chain-id",
    // Same lengths as the names read, other text: must not be taken for them.
    "content-tipe", "x-http-methox", "content-lengtx", "content-encodinx", "x-method-overridx",
    "x-remit", "x-remitx-other", ":authority", "accept",
  ]

  @Test(arguments: 0..<200)
  func onePassGivesWhatTheLookupsGive(seed: Int) {
    var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 | 1
    func next(_ bound: Int) -> Int {
      state ^= state << 13
      state ^= state >> 7
      state ^= state << 17
      return Int(state % UInt64(bound))
    }
    var headers: [String: String] = [:]
    for name in Self.names where next(3) == 0 {
      headers[name] = ["application/json", "gzip", "12", "true", "PUT"][next(5)]
    }
    let http = GovernedRequest.HTTPRequest(method: "POST", path: "/", headers: headers)
    #expect(http.facts.contentType == headers["content-type"])
    #expect(http.facts.contentEncoding == headers["content-encoding"])
    #expect(http.facts.contentLength == headers["content-length"])
    #expect(http.facts.partialBody == headers["x-envoy-auth-partial-body"])
    // In the order `DecisionEngine.methodOverrideHeaders` names them.
    let overrides = http.facts.methodOverrides
    #expect([overrides.0, overrides.1, overrides.2] == DecisionEngine.methodOverrideHeaders.map { headers[$0] })
    #expect(http.facts.hasRemitHeader == headers.keys.contains { $0.hasPrefix("x-remit-") })
  }

  @Test func changedHeadersAreFoundAgain() {
    var http = GovernedRequest.HTTPRequest(method: "POST", path: "/", headers: [:])
    #expect(!http.hasJSONContentType)
    http.headers["content-type"] = "application/vnd.api+json; charset=utf-8"
    #expect(http.hasJSONContentType)
    http.headers["x-remit-forged"] = "1"
    #expect(http.facts.hasRemitHeader)
  }

  /// `bodyIsPartial` reads both headers on their bytes; it must read them as
  /// `lowercased() == "true"` and `Int(trimmingOptionalWhitespace())` did.
  @Test func partialBodyHeadersReadAsTheStringFunctionsDid() {
    let lengths = [
      "", " ", "0", "42", " 42", "42\t", "\t 42 \t", "+42", "-42", "-0", "+", "-", "4 2", "42a", "0x10", "١٢",
      "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
      "00000000000000000000042", " +7 ", "++7", "+-7", "\u{A0}42",
    ]
    for text in lengths {
      var bytes = text
      let decoded = bytes.withUTF8 { GovernedRequest.HTTPRequest.decimal($0) }
      #expect(decoded == Int(text.trimmingOptionalWhitespace()), "\(text.debugDescription)")
    }
    // And random ones: signs, spaces, tabs, digits, other bytes, runs long enough to overflow.
    var generator = SystemRandomNumberGenerator()
    let alphabet: [Character] = ["0", "1", "5", "9", "+", "-", " ", "\t", "a", "x", ".", "\u{A0}", "٣"]
    for _ in 0..<20_000 {
      let length = Int.random(in: 0...24, using: &generator)
      let text = String(
        (0..<length).map { _ in Bool.random(using: &generator) ? "7" : alphabet.randomElement(using: &generator) ?? "0"
        })
      var bytes = text
      let decoded = bytes.withUTF8 { GovernedRequest.HTTPRequest.decimal($0) }
      #expect(decoded == Int(text.trimmingOptionalWhitespace()), "\(text.debugDescription)")
    }
    for flag in [
      "true", "TRUE", "True", "tRuE", "true ", " true", "false", "", "tru", "truee", "t\u{0301}rue", "\u{212A}",
    ] {
      let http = GovernedRequest.HTTPRequest(
        method: "POST", path: "/", headers: ["x-envoy-auth-partial-body": flag, "content-length": "3"], body: [1, 2, 3])
      #expect(http.bodyIsPartial(maxRequestBytes: 100) == (flag.lowercased() == "true"), "\(flag.debugDescription)")
    }
    // A declared length decides against the body; without one, reaching the limit counts as cut.
    func partial(_ headers: [String: String], body: Int, limit: Int = 8) -> Bool {
      GovernedRequest.HTTPRequest(method: "POST", path: "/", headers: headers, body: Array(repeating: 0, count: body))
        .bodyIsPartial(maxRequestBytes: limit)
    }
    #expect(partial(["content-length": " 9 "], body: 8))
    #expect(!partial(["content-length": "8"], body: 8))
    #expect(partial(["content-length": "-1"], body: 8))
    #expect(!partial(["content-length": "junk"], body: 7))
    #expect(partial([:], body: 8))
  }
}
