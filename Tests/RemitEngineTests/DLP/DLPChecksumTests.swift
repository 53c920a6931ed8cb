import Testing

@testable import RemitEngine

@Suite struct DLPChecksumTests {
  func withBytes<T>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> T) -> T {
    Array(text.utf8).withUnsafeBufferPointer(body)
  }

  @Test(arguments: [
    ("4111111111111111", true),
    ("4111111111111112", false),
    ("378282246310005", true),  // Amex test number
    ("378282246310006", false),
    ("6011111111111117", true),
    ("4111 1111 1111 1111", true),  // separators are skipped
    ("0", false),  // too few digits
    ("79927398713", true),  // the textbook example
    ("79927398710", false),
  ])
  func luhn(_ number: String, _ valid: Bool) {
    #expect(withBytes(number) { DLPChecksum.luhnIsValid($0, 0..<$0.count) } == valid)
  }

  @Test(arguments: [
    ("DE89370400440532013000", true),
    ("GB82WEST12345698765432", true),
    ("GB82 WEST 1234 5698 7654 32", true),
    ("FR1420041010050500013M02606", true),
    ("NO9386011117947", true),
    ("DE89370400440532013001", false),
    ("GB83WEST12345698765432", false),
    ("DE00", false),  // too short
  ])
  func mod97(_ iban: String, _ valid: Bool) {
    #expect(withBytes(iban) { DLPChecksum.mod97IsValid($0, 0..<$0.count) } == valid)
  }

  @Test func ibanLengthsComeFromTheRegistry() {
    func length(_ code: String) -> Int {
      let bytes = Array(code.utf8)
      return DLPChecksum.ibanLength(bytes[0], bytes[1])
    }
    #expect(length("DE") == 22)
    #expect(length("GB") == 22)
    #expect(length("FR") == 27)
    #expect(length("NO") == 15)
    #expect(length("RU") == 33)
    #expect(length("US") == 0)
    #expect(length("XX") == 0)
    #expect(length("de") == 0)
  }

  @Test(arguments: [
    (411_111, 16, true), (411_111, 13, true), (411_111, 19, true), (411_111, 15, false),
    (510_000, 16, true), (550_000, 16, true), (560_000, 16, false), (222_100, 16, true), (272_099, 16, true),
    (272_100, 16, false), (340_000, 15, true), (370_000, 15, true), (340_000, 16, false),
    (601_100, 16, true), (644_000, 16, true), (650_000, 19, true), (622_126, 16, true),
    (352_800, 16, true), (358_999, 16, true), (352_799, 16, false),
    (300_000, 14, true), (360_000, 14, true), (306_000, 14, false),
    (620_000, 16, true), (100_000, 16, false), (900_000, 16, false),
  ])
  func cardBrands(_ prefix: Int, _ length: Int, _ accepted: Bool) {
    #expect(DLPScan.cardBrandAccepts(prefix: prefix, length: length) == accepted)
  }

  @Test func nanpRules() {
    #expect(DLPScan.isNANP(area: 415, exchange: 555))
    #expect(!DLPScan.isNANP(area: 123, exchange: 555))  // area starts with 1
    #expect(!DLPScan.isNANP(area: 415, exchange: 055))  // exchange starts with 0
    #expect(!DLPScan.isNANP(area: 911, exchange: 555))  // N11 service code
    #expect(!DLPScan.isNANP(area: 415, exchange: 411))
  }

  @Test func customValidators() {
    #expect(withBytes("card 4111-1111-1111-1111") { DLPScan.validate(.luhn, $0, 0..<$0.count) })
    #expect(!withBytes("card 4111-1111-1111-1112") { DLPScan.validate(.luhn, $0, 0..<$0.count) })
    #expect(!withBytes("18") { DLPScan.validate(.luhn, $0, 0..<$0.count) })  // fewer than 8 digits
    #expect(withBytes("GB82 WEST 1234 5698 7654 32") { DLPScan.validate(.mod97, $0, 0..<$0.count) })
    #expect(!withBytes("GB82 WEST 1234 5698 7654 33") { DLPScan.validate(.mod97, $0, 0..<$0.count) })
  }
}
