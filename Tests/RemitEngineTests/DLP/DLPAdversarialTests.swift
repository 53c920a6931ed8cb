import Testing

@testable import RemitEngine

/// Hostile bodies: the scan must stay linear. Asserted on the work the confirm checks report (bytes
/// read), not on wall time.
@Suite struct DLPAdversarialTests {
  static let size = 64 * 1024
  let all = DLPScanner(builtins: Set(DLPDetector.allCases), custom: [])

  static func repeated(_ unit: String) -> [UInt8] {
    let bytes = Array(unit.utf8)
    return (0..<size).map { bytes[$0 % bytes.count] }
  }

  @Test(arguments: [
    "0", "1 ", "4", "@", "-", "_", ":", "=", "\"", "A", "J", "k", "+1", "(", "a@", "a.", "0-", "00 ",
    "sk-", "ghp_", "sk_live_", "xoxb-1234567890-", "eyJ", "eyJhbGciOiJIUzI1NiJ9.", "-----BEGIN ",
    "-----BEGIN RSA PRIVATE KEY-----", "hooks.slack.com/services/T", "AKIA", "AIza", "DE89",
    "token=", "\"password\": \"", "password: ", "\\\"api_key\\\":\\\"", "x@y.", "ssn 123-45-67",
  ])
  func repeatedUnitsStayLinear(_ unit: String) {
    let body = Self.repeated(unit)
    let result = all.scanMeasuringWork(body)
    #expect(result.matches.count <= 64)
    #expect(result.inspections <= body.count)
    // Each byte is read a small, constant number of times by the confirm checks.
    #expect(result.bytesRead <= 40 * body.count, "\(unit): \(result.bytesRead) bytes read for \(body.count)")
  }

  @Test func manyRealMatchesStopAtTheLimit() {
    let body = Self.repeated("4111111111111111 ")
    let result = all.scanMeasuringWork(body, limit: 64)
    #expect(result.matches.count == 64)
    // It stops as soon as the limit is reached.
    #expect(result.inspections < 200)
  }

  @Test func customRulesSpendABoundedNumberOfRegexRuns() throws {
    let rule = try DLPCustomRule(id: "r", keywords: ["k"], pattern: "k[0-9]{6}", validator: nil)
    let scanner = DLPScanner(builtins: [], custom: [rule])
    // A keyword every byte: windows are skipped while the previous one still covers the hit.
    let body = Self.repeated("k")
    let matches = scanner.scan(body)
    #expect(matches.isEmpty)
    var state = DLPCustomScanState(ruleCount: 1)
    state.regexRuns = DLPCustomScanState.maximumRegexRuns
    #expect(state.regexRuns <= 512)
  }

  @Test func cleanJSONIsASinglePassWithFewStops() {
    var text = ""
    while text.utf8.count < Self.size {
      text += #"{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"search","arguments":{"#
      text += #""query":"quarterly revenue for the Paris office","limit":20,"offset":100}}}"#
      text += "\n"
    }
    let body = Array(text.utf8)
    let result = all.scanMeasuringWork(body)
    #expect(result.matches.isEmpty)
    // About one stop per JSON key or number (here one every 16 bytes), not one per digit or letter.
    #expect(result.inspections * 14 < body.count, "\(result.inspections) stops in \(body.count) bytes")
  }
}
