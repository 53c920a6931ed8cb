import Foundation
import Testing

@testable import RemitAuthorizer

/// The log line's string escaping: what comes out parses back to what went in, and nothing that
/// ends a line (control characters, U+2028, U+2029) is left raw.
@Suite struct JSONTextTests {
  static func escaped(_ value: String) -> String {
    var output = ""
    JSONText.appendString(value, to: &output)
    return output
  }

  @Test func escapesWhatJSONRequiresAndLineSeparators() {
    #expect(Self.escaped("plain /mcp") == #""plain /mcp""#)
    #expect(Self.escaped("a\"b\\c\nd\re\tf\u{1}") == #""a\"b\\c\nd\re\tf\u0001""#)
    #expect(Self.escaped("x\u{2028}y\u{2029}z\u{1F}") == #""x\u2028y\u2029z\u001f""#)
    #expect(Self.escaped("é — ✓ \u{2027}\u{202A}") == "\"é — ✓ \u{2027}\u{202A}\"")
  }

  @Test func randomStringsRoundTripThroughJSONSerialization() throws {
    let alphabet: [Character] = [
      "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\r", "\t", "\u{0}", "\u{1F}", "\u{7F}", "é", "—",
      "\u{2028}", "\u{2029}", "\u{2027}", "\u{202A}", "𝔘", "e\u{301}",
    ]
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<2_000 {
      let value = String(
        (0..<Int.random(in: 0..<24, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
      let output = Self.escaped(value)
      let parsed = try JSONSerialization.jsonObject(with: Data(output.utf8), options: .fragmentsAllowed) as? String
      #expect(parsed == value, "\(output)")
      #expect(!output.unicodeScalars.contains { $0.value < 0x20 || $0 == "\u{2028}" || $0 == "\u{2029}" })
    }
  }
}
