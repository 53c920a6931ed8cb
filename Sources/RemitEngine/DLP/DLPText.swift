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

  /// How many ASCII digits start at `index` (which must be inside the text), counting at most 8.
  /// Eight bytes at a time when they are there (SWAR): the short numbers of JSON (counts, prices,
  /// parts of dates) end at varying lengths, which a byte loop mispredicts.
  @inline(__always)
  func leadingDigitCount(at index: Int) -> Int {
    guard index &+ 8 <= count else { return runEnd(from: index, limit: 8, ASCII.isDigit) - index }
    if let meter { meter.bytesRead += 8 }
    let word = UInt64(littleEndian: UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
    // A byte is a digit when its low seven bits lie in 0x30...0x39 and its top bit is clear: adding
    // 0x50 to the low seven bits sets bit 7 from 0x30 up, adding 0x46 from 0x3A up; no carry leaves
    // a byte.
    let low = word & 0x7F7F_7F7F_7F7F_7F7F
    let digits = (low &+ 0x5050_5050_5050_5050) & ~(low &+ 0x4646_4646_4646_4646) & ~word & 0x8080_8080_8080_8080
    // The first byte that is not a digit: the lowest clear top bit.
    return (~digits & 0x8080_8080_8080_8080).trailingZeroBitCount &>> 3
  }

  /// The digits in the run of digits, spaces, `-` and `.` that starts at `index`, when that run
  /// ends within the next 16 bytes; nil when it does not or fewer than 16 bytes remain. A number
  /// span (`readSpan`) is a prefix of this run, so it has at most this many digits: a date or a
  /// price is dismissed with two eight-byte reads instead of a byte walk.
  @inline(__always)
  func digitsInNumberRun(at index: Int) -> Int? {
    guard index >= 0, index &+ 16 <= count else { return nil }
    if let meter { meter.bytesRead += 16 }
    let raw = UnsafeRawPointer(base + index)
    let first = Self.numberBytes(UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self)))
    let outside = ~first.members & 0x8080_8080_8080_8080
    if outside != 0 {
      let below = (UInt64(1) << UInt64(outside.trailingZeroBitCount)) &- 1
      return (first.digits & below).nonzeroBitCount
    }
    let second = Self.numberBytes(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
    let outsideSecond = ~second.members & 0x8080_8080_8080_8080
    guard outsideSecond != 0 else { return nil }
    let below = (UInt64(1) << UInt64(outsideSecond.trailingZeroBitCount)) &- 1
    return first.digits.nonzeroBitCount + (second.digits & below).nonzeroBitCount
  }

  /// Per byte of `word`, bit 7 set: in `digits` for `0-9`, in `members` for `0-9`, space, `-`, `.`.
  @inline(__always)
  static func numberBytes(_ word: UInt64) -> (digits: UInt64, members: UInt64) {
    let high: UInt64 = 0x8080_8080_8080_8080
    let low = word & 0x7F7F_7F7F_7F7F_7F7F
    let ascii = ~word & high
    // Range checks on seven bits (no carry leaves a byte): 0x30...0x39, and 0x2D...0x2E.
    let digits = (low &+ 0x5050_5050_5050_5050) & ~(low &+ 0x4646_4646_4646_4646) & ascii
    let dashOrDot = (low &+ 0x5353_5353_5353_5353) & ~(low &+ 0x5151_5151_5151_5151) & ascii
    // A zero byte after XOR with spaces is a space.
    let spaced = word ^ 0x2020_2020_2020_2020
    let space = ~(((spaced & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x7F7F_7F7F_7F7F_7F7F) | spaced) & high
    return (digits, digits | dashOrDot | space)
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
