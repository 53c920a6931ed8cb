import Testing

@testable import RemitEngine

@Suite struct DLPCustomRuleTests {
  func rule(
    _ id: String = "project-code", keywords: [String] = ["PRJ-"], pattern: String = "PRJ-[0-9]{6}",
    validator: DLPValidator? = nil
  ) throws -> DLPCustomRule {
    try DLPCustomRule(id: id, keywords: keywords, pattern: pattern, validator: validator)
  }

  func scan(_ text: String, _ rules: [DLPCustomRule], builtins: Set<DLPDetector> = []) -> [DLPMatch] {
    DLPScanner(builtins: builtins, custom: rules).scan(Array(text.utf8))
  }

  @Test func keywordsAreCaseInsensitiveAndThePatternDecides() throws {
    let rules = [try rule(keywords: ["prj-"], pattern: "(?i)PRJ-[0-9]{6}")]
    #expect(scan("see PRJ-123456 and prj-654321", rules).map(\.offset) == [4, 19])
    #expect(scan("see PRJ-12345x", rules).isEmpty)
    // The keyword is only a prefilter: a case-sensitive pattern still decides.
    let strict = [try rule(keywords: ["prj-"], pattern: "PRJ-[0-9]{6}")]
    #expect(scan("prj-123456 PRJ-654321", strict) == [DLPMatch(detector: "project-code", offset: 11, length: 10)])
  }

  @Test func theRegexRunsOnlyNearAKeyword() throws {
    let rules = [try rule(keywords: ["employee"], pattern: "E[0-9]{7}")]
    let near = "employee id E1234567"
    #expect(scan(near, rules) == [DLPMatch(detector: "project-code", offset: 12, length: 8)])
    // Without the keyword nothing runs.
    #expect(scan("id E1234567", rules).isEmpty)
    // Beyond the window after the keyword the pattern is not run.
    let padding = String(repeating: " ", count: DLPCustomRule.window + 10)
    #expect(scan("employee\(padding)E1234567", rules).isEmpty)
    // Inside the window before the keyword it is.
    let before = String(repeating: " ", count: DLPCustomRule.window - 20)
    #expect(scan("E1234567\(before)employee", rules).map(\.offset) == [0])
  }

  @Test func oneByteKeywordsWork() throws {
    let rules = [try rule(keywords: ["#"], pattern: "#[0-9]{4}")]
    #expect(scan("ticket #1234", rules).map(\.offset) == [7])
  }

  @Test func keywordsInsideNumbersAndTokensAreFound() throws {
    let rules = [try rule("branch", keywords: ["55"], pattern: "55[0-9]{3}")]
    // The number detectors skip digit runs; keyword anchors inside them still fire.
    #expect(scan("x 1255123 y", rules, builtins: Set(DLPDetector.allCases)).map(\.offset) == [4])
    #expect(scan("x 1255123 y", rules).map(\.offset) == [4])
  }

  @Test func validatorsFilterMatches() throws {
    let luhn = [try rule("card-ref", keywords: ["ref"], pattern: "[0-9]{16}", validator: .luhn)]
    #expect(scan("ref 4111111111111111", luhn).count == 1)
    #expect(scan("ref 4111111111111112", luhn).isEmpty)
    let iban = [try rule("acct", keywords: ["acct"], pattern: "[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}", validator: .mod97)]
    #expect(scan("acct GB82WEST12345698765432", iban).count == 1)
    #expect(scan("acct GB82WEST12345698765433", iban).isEmpty)
  }

  @Test func repeatedKeywordsDoNotDuplicateMatches() throws {
    let rules = [try rule()]
    let text = "PRJ-123456 PRJ-123457 PRJ-123458"
    #expect(scan(text, rules).map(\.offset) == [0, 11, 22])
  }

  @Test func customAndBuiltinMatchesAreMergedInOffsetOrder() throws {
    let rules = [try rule()]
    let text = "4111111111111111 PRJ-123456 jane@example.com"
    #expect(
      scan(text, rules, builtins: [.creditCard, .email]).map(\.detector) == ["credit_card", "project-code", "email"])
  }

  @Test func offsetsSurviveMultibyteAndInvalidUTF8() throws {
    let rules = [try rule()]
    var bytes = Array("é€ PRJ-123456".utf8)
    #expect(DLPScanner(builtins: [], custom: rules).scan(bytes).map(\.offset) == [6])
    bytes = [0xFF, 0xFE, 0x20] + Array("PRJ-123456".utf8)
    #expect(DLPScanner(builtins: [], custom: rules).scan(bytes).map(\.offset) == [3])
  }

  @Test(arguments: [
    ("", ["k"], "x", "dlp_custom_id_invalid"),
    ("has space", ["k"], "x", "dlp_custom_id_invalid"),
    ("credit_card", ["k"], "x", "dlp_custom_id_reserved"),
    ("r", [], "x", "dlp_keywords_missing"),
    ("r", [""], "x", "dlp_keyword_invalid"),
    ("r", ["  "], "x", "dlp_keyword_invalid"),
    ("r", [String(repeating: "k", count: 65)], "x", "dlp_keyword_invalid"),
    ("r", ["k"], "", "dlp_pattern_empty"),
    ("r", ["k"], String(repeating: "a", count: 513), "dlp_pattern_too_long"),
    ("r", ["k"], "PRJ-[0-9", "dlp_pattern_invalid"),
    ("r", ["k"], "(a+)+b", "dlp_pattern_unsafe"),
    ("r", ["k"], "(\\w*)*", "dlp_pattern_unsafe"),
    ("r", ["k"], "(a|aa)+", "dlp_pattern_unsafe"),
    ("r", ["k"], "(x{2,})+", "dlp_pattern_unsafe"),
  ])
  func badRulesAreRefused(_ id: String, _ keywords: [String], _ pattern: String, _ code: String) {
    #expect {
      _ = try DLPCustomRule(id: id, keywords: keywords, pattern: pattern, validator: nil)
    } throws: { error in
      guard let error = error as? DLPPatternError else { return false }
      return error.code == code && !error.message.isEmpty
    }
  }

  @Test(arguments: ["PRJ-[0-9]{6}", "(\\d{4}[- ]?){3}\\d{4}", "[A-Z]{2}(?:[0-9]{2})+", "(ab|cd){1,3}", "a+b*c?"])
  func reasonablePatternsAreAccepted(_ pattern: String) throws {
    _ = try DLPCustomRule(id: "ok", keywords: ["k"], pattern: pattern, validator: nil)
  }

  @Test func errorsNeverEchoThePatternOrKeyword() {
    let secretish = "SECRET-KEYWORD-abc123"
    do {
      _ = try DLPCustomRule(id: "r", keywords: [secretish], pattern: "(a+)+", validator: nil)
      Issue.record("expected an error")
    } catch {
      #expect(!error.message.contains(secretish))
      #expect(!error.message.contains("(a+)+"))
    }
  }
}
