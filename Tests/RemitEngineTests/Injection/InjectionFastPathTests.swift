import Testing

@testable import RemitEngine

/// The word-at-a-time check that lets one short plain word skip the scanner must say exactly
/// what the byte-class table says.
@Suite struct InjectionFastPathTests {
  let classes = InjectionTables.shared.byteClass

  @Test func everyByteInEveryLaneIsClassifiedAsTheTableClassifiesIt() {
    for lane in 0..<8 {
      for byte in 0...255 {
        // The other lanes hold a letter, so only this lane can be flagged.
        var word: UInt64 = 0x6161_6161_6161_6161
        word &= ~(UInt64(0xFF) << (lane * 8))
        word |= UInt64(byte) << (lane * 8)
        let flagged = InjectionDetector.notLowercaseOrDigit(word)
        let expected: UInt64 = classes[byte] != 0 ? 0x80 << (lane * 8) : 0
        #expect(flagged == expected, "byte \(byte) in lane \(lane)")
      }
    }
  }

  @Test func shortPlainWordsAgreeWithAByteLoop() {
    var generator = SystemRandomNumberGenerator()
    let alphabet = Array("abcxyz0189AZ-_. \u{7F}\u{80}\u{FF}".utf8) + [0x00, 0x60, 0x7B, 0x2F, 0x3A, 0x40, 0x5B]
    for _ in 0..<20_000 {
      let length = Int.random(in: 0...30, using: &generator)
      // Mostly plain words, so the fast path is taken often; now and then one odd byte.
      var bytes = (0..<length).map { _ in UInt8.random(in: UInt8(ascii: "a")...UInt8(ascii: "z"), using: &generator) }
      if !bytes.isEmpty && Bool.random(using: &generator) {
        bytes[Int.random(in: 0..<bytes.count, using: &generator)] = alphabet.randomElement(using: &generator) ?? 0
      }
      let expected = bytes.count < InjectionScanner.minimumBase64Run && bytes.allSatisfy { classes[Int($0)] == 0 }
      let actual = bytes.withUnsafeBufferPointer { InjectionDetector.isOneShortPlainWord($0, classes) }
      #expect(actual == expected, "\(bytes)")
    }
  }
}
