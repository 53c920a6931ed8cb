import Testing

@testable import RemitEngine

/// The scan loop's block skipping and quick rejections (short numbers, dates, prices, value
/// quotes, digits after capitals) must find exactly what visiting every anchor finds.
@Suite struct DLPScanLoopTests {
  /// Pieces that sit on the edges of the quick rejections: digit runs of every length from 1 to
  /// 20, each separator, separator runs, look-alike dates, times and prices, numbers glued to
  /// capitals, signs and parentheses, and real cards, SSNs, phone numbers and IBANs.
  static let pieces: [String] = [
    "0", "12", "123", "1234", "12345", "123456", "1234567", "12345678", "123456789", "1234567890",
    "12345678901", "4111111111111111", "41111111111111112", "12345678901234567890",
    " ", "-", ".", "--", "..", "  ", "-----BEGIN ", ",", ":", "\"", "=", "+", "(", ")", "x", "T", "Z",
    "2026-11-23", "2026-11-23T10:00:00Z", "1234.99", "19.5", "10:00", "555-234-5678", "555.234.5678",
    "(555) 234-5678", "+1 555 234 5678", "+44 20 7946 0958", "123-45-6789", "078-05-1120",
    "4111 1111 1111 1111", "4111-1111-1111-1111", "3782 822463 10005", "5555 5555 5555 4444",
    "GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "SKU-", "AB12", "T10", "qty", "\"qty\":",
    "\"token\":", "\"password\": \"hunter2hunter2xyz\"", "api_key=", "AKIAQYLPMN5HHHFPZAM2",
    "jane.doe@example.com", "sk-", "ghp_", "eyJ", "hooks.slack.com", "é", "\u{00A0}",
  ]

  static func body(seed: UInt64, pieces count: Int) -> [UInt8] {
    var state = seed
    func next() -> Int {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return Int(truncatingIfNeeded: (z ^ (z >> 31)) >> 1)
    }
    var text = ""
    for _ in 0..<count { text += pieces[next() % pieces.count] }
    return Array(text.utf8)
  }

  @Test(arguments: 0..<400)
  func theLoopFindsWhatEveryAnchorFinds(seed: Int) throws {
    let scanner = DLPScanner(builtins: Set(DLPDetector.allCases), custom: [])
    let body = Self.body(seed: UInt64(seed), pieces: 10 + seed % 90)
    let fast = scanner.scan(body, limit: 64)
    let reference = scanner.scanByteByByte(body, limit: 64)
    #expect(fast == reference, "seed \(seed): \(String(decoding: body, as: UTF8.self))")
  }

  @Test(arguments: 0..<100)
  func withACustomRuleTooTheLoopFindsWhatEveryAnchorFinds(seed: Int) throws {
    let rule = try DLPCustomRule(id: "order", keywords: ["12", "order"], pattern: "[0-9]{6}", validator: nil)
    let scanner = DLPScanner(builtins: Set(DLPDetector.allCases), custom: [rule])
    let body = Self.body(seed: UInt64(1_000 + seed), pieces: 10 + seed % 60)
    #expect(scanner.scan(body, limit: 64) == scanner.scanByteByByte(body, limit: 64), "seed \(seed)")
  }

  @Test(arguments: [
    "order 123 4111-1111-1111-1111 today", "at 10:00 4111-1111-1111-1111", "ref 555 12 4111-1111-1111-1111",
    "id 1234 4111-1111-1111-1111", "qty 123 078-05-1120",
  ])
  func aShortNumberBeforeASpaceDoesNotHideTheNumberAfterIt(text: String) {
    // The short span stops where the separator changes; the number after the space is its own.
    let scanner = DLPScanner(builtins: Set(DLPDetector.allCases), custom: [])
    let body = Array(text.utf8)
    let detectors = scanner.scan(body).map(\.detector)
    #expect(detectors == [text.hasSuffix("078-05-1120") ? "us_ssn" : "credit_card"], "\(text): \(detectors)")
    #expect(scanner.scanByteByByte(body).map(\.detector) == detectors)
  }

  @Test func datesPricesAndShortNumbersAreNotInspected() {
    // The quick rejections keep id-dense JSON from calling the number checks at all.
    let scanner = DLPScanner(builtins: Set(DLPDetector.allCases), custom: [])
    let item = #"{"sku":"SKU-12345","qty":23,"eta":"2026-11-17T10:00:00Z","price":1234.99,"n":"x"},"#
    let body = Array(String(repeating: item, count: 50).utf8)
    let result = scanner.scanMeasuringWork(body)
    #expect(result.matches.isEmpty)
    #expect(result.inspections == 0, "\(result.inspections) inspections")
  }
}
