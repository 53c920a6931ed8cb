/// A read-only view of the scanned bytes for the confirm checks. Reading outside the buffer yields
/// 0, which no detector accepts, so look-behind and look-ahead need no separate bounds checks.
struct DLPText {
  let base: UnsafePointer<UInt8>
  let count: Int
  /// Counts the bytes the confirm checks read; tests use it to prove scans stay linear.
  var meter: DLPWorkMeter? = nil

  @inline(__always)
  subscript(_ index: Int) -> UInt8 {
    index >= 0 && index < count ? base[index] : 0
  }

  /// Whether `literal` (ASCII) occurs at `index`, byte for byte.
  @inline(__always)
  func has(_ literal: StaticString, at index: Int) -> Bool {
    let length = literal.utf8CodeUnitCount
    guard index >= 0, index <= count - length else { return false }
    let bytes = literal.utf8Start
    for offset in 0..<length where base[index + offset] != bytes[offset] { return false }
    return true
  }

  /// Whether `literal` (lowercase ASCII) occurs at `index`, ignoring ASCII case.
  @inline(__always)
  func hasIgnoringCase(_ literal: StaticString, at index: Int) -> Bool {
    let length = literal.utf8CodeUnitCount
    guard index >= 0, index <= count - length else { return false }
    let bytes = literal.utf8Start
    for offset in 0..<length where ASCII.lowercased(base[index + offset]) != bytes[offset] { return false }
    return true
  }

  /// The end of the run of bytes satisfying `accept` from `start`, reading at most `limit` bytes.
  @inline(__always)
  func runEnd(from start: Int, limit: Int, _ accept: (UInt8) -> Bool) -> Int {
    let stop = limit >= count - start ? count : start + limit
    var index = start
    while index < stop && accept(base[index]) { index += 1 }
    if let meter { meter.bytesRead += index - start + 1 }
    return index
  }

  /// Whether `needle` (lowercase ASCII) occurs anywhere in `range`, ignoring ASCII case.
  func contains(_ needle: StaticString, in range: Range<Int>) -> Bool {
    let length = needle.utf8CodeUnitCount
    guard length > 0, range.count >= length else { return false }
    if let meter { meter.bytesRead += range.count }
    for index in range.lowerBound...(range.upperBound - length) where hasIgnoringCase(needle, at: index) {
      return true
    }
    return false
  }

  func buffer(_ range: Range<Int>) -> UnsafeBufferPointer<UInt8> {
    UnsafeBufferPointer(start: base + range.lowerBound, count: range.count)
  }
}

/// ASCII byte classes for the confirm checks: branch-light comparisons, no tables to load.
enum ASCII {
  @inline(__always) static func isDigit(_ byte: UInt8) -> Bool { byte &- 48 < 10 }
  @inline(__always) static func isUpper(_ byte: UInt8) -> Bool { byte &- 65 < 26 }
  @inline(__always) static func isLower(_ byte: UInt8) -> Bool { byte &- 97 < 26 }
  @inline(__always) static func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) &- 97 < 26 }
  @inline(__always) static func isAlphanumeric(_ byte: UInt8) -> Bool { isDigit(byte) || isLetter(byte) }
  /// `[A-Za-z0-9_]`
  @inline(__always) static func isWord(_ byte: UInt8) -> Bool { isAlphanumeric(byte) || byte == 0x5F }
  /// `[A-Za-z0-9_-]`: the base64url alphabet, also what most API tokens are made of.
  @inline(__always) static func isBase64URL(_ byte: UInt8) -> Bool { isWord(byte) || byte == 0x2D }
  /// `[A-Z2-7]`: RFC 4648 base32, the alphabet of AWS key ids.
  @inline(__always) static func isBase32(_ byte: UInt8) -> Bool { isUpper(byte) || byte &- 50 < 6 }
  @inline(__always) static func isUpperOrDigit(_ byte: UInt8) -> Bool { isUpper(byte) || isDigit(byte) }
  @inline(__always) static func isSpace(_ byte: UInt8) -> Bool {
    byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
  }
  @inline(__always) static func lowercased(_ byte: UInt8) -> UInt8 { isUpper(byte) ? byte | 0x20 : byte }
  /// The byte and, for a letter, its other case.
  static func bothCases(_ byte: UInt8) -> [UInt8] { isLetter(byte) ? [byte | 0x20, byte & ~0x20] : [byte] }
}

/// Work done by one scan's confirm checks (tests only: production scans carry no meter).
final class DLPWorkMeter {
  var bytesRead = 0
  var inspections = 0
}
