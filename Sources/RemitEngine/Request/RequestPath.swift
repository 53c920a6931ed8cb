/// Path hygiene (SPEC section 4): what a route rule is matched against.
public enum RequestPath {
  public static let maximumBytes = 8192

  public enum Problem: String, Sendable, Error {
    case empty = "path is empty or does not start with /"
    case tooLong = "path is longer than 8192 bytes"
    case badByte = "path contains a space, control character, non-ASCII byte or backslash"
    case badEscape = "path contains invalid percent-encoding"
    case encodedSeparator = "path contains an encoded / or \\ (%2F, %5C) or NUL"
    case dotSegment = "path contains a . or .. segment"
  }

  /// Strips query and fragment, rejects what could be read two ways, and decodes percent-escapes
  /// of unreserved characters. Nothing is collapsed: `//` stays `//`.
  public static func hygienic(_ raw: String) -> Result<String, Problem> {
    var raw = raw
    return raw.withUTF8 { hygienic(utf8: $0) }
  }

  static func hygienic(utf8 input: UnsafeBufferPointer<UInt8>) -> Result<String, Problem> {
    var end = input.count
    if let cut = input.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) { end = cut }
    guard end > 0, input[0] == UInt8(ascii: "/") else { return .failure(.empty) }
    guard end <= maximumBytes else { return .failure(.tooLong) }

    var output: [UInt8] = []
    output.reserveCapacity(end)
    var index = 0
    var changed = false
    while index < end {
      let byte = input[index]
      if byte <= 0x20 || byte >= 0x7F || byte == UInt8(ascii: "\\") { return .failure(.badByte) }
      guard byte == UInt8(ascii: "%") else {
        output.append(byte)
        index += 1
        continue
      }
      guard index + 2 < end,
        let high = hexValue(input[index + 1]), let low = hexValue(input[index + 2])
      else { return .failure(.badEscape) }
      let decoded = high << 4 | low
      if decoded == UInt8(ascii: "/") || decoded == UInt8(ascii: "\\") || decoded == 0 {
        return .failure(.encodedSeparator)
      }
      if isUnreserved(decoded) {
        output.append(decoded)
        changed = true
      } else {
        output.append(contentsOf: input[index..<index + 3])
      }
      index += 3
    }
    // Dot segments, including ones spelled with %2E that were just decoded.
    var segmentStart = 1
    for position in 1...output.count {
      if position == output.count || output[position] == UInt8(ascii: "/") {
        let length = position - segmentStart
        if (length == 1 || length == 2) && output[segmentStart..<position].allSatisfy({ $0 == UInt8(ascii: ".") }) {
          return .failure(.dotSegment)
        }
        segmentStart = position + 1
      }
    }
    if !changed && end == input.count {
      return .success(String(decoding: input, as: UTF8.self))
    }
    return .success(String(decoding: output, as: UTF8.self))
  }

  @inline(__always)
  static func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
  }

  @inline(__always)
  static func isUnreserved(_ byte: UInt8) -> Bool {
    (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
      || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
      || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "~")
  }
}
