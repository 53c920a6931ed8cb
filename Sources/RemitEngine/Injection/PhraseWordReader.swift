/// A normalized word for phrase matching: up to 16 folded letters packed into two words.
struct PhraseWordKey: Hashable, Sendable {
  var low: UInt64 = 0
  var high: UInt64 = 0
  /// Folded characters in the word (may exceed 16; such words are never in the vocabulary).
  var length = 0

  init() {}

  init(_ word: String) {
    for byte in word.utf8 { append(byte) }
  }

  @inline(__always) mutating func append(_ folded: UInt8) {
    if length < 8 {
      low |= UInt64(folded) << UInt64(length * 8)
    } else if length < 16 {
      high |= UInt64(folded) << UInt64((length - 8) * 8)
    }
    length += 1
  }

  /// The first four folded characters, zero-padded: the hot loop's prefix key for the same word.
  var prefixKey: UInt32 { UInt32(truncatingIfNeeded: low) }

  func byte(at index: Int) -> UInt8 {
    UInt8(truncatingIfNeeded: index < 8 ? low >> UInt64(index * 8) : high >> UInt64((index - 8) * 8))
  }
}

/// One word read from the text: its vocabulary id, where it starts, and the punctuation around it.
struct PhraseWord {
  var id: UInt16
  var start: Int
  /// The separator before this word held sentence punctuation or a line break.
  var breakBefore: Bool
  /// The next non-blank byte after this word is a colon.
  var colonAfter: Bool
}

/// Reads normalized words: ASCII lowercased, leetspeak digits read as letters, homoglyphs and
/// full-width forms folded, zero-width characters and apostrophes dropped, every other run of
/// punctuation, spaces or non-Latin text a single separator, camelCase split.
struct PhraseWordReader {
  let base: UnsafePointer<UInt8>
  let end: Int
  var position: Int
  private let fold = InjectionTables.shared.asciiFold

  init(base: UnsafePointer<UInt8>, end: Int, position: Int) {
    self.base = base
    self.end = end
    self.position = position
  }

  /// The next word, or nil at the end.
  mutating func next(_ key: inout PhraseWordKey) -> (start: Int, breakBefore: Bool, colonAfter: Bool)? {
    var breakBefore = false
    while position < end {
      let byte = base[position]
      if byte < 0x80 {
        let folded = fold[Int(byte)]
        if FoldedByte.isWordCharacter(folded) { break }
        if Self.isSentenceBreak(byte) { breakBefore = true }
        position += 1
      } else {
        let (scalar, length) = UnicodeFolding.decode(base, position, end)
        let folded = scalar == UnicodeFolding.invalid ? FoldedByte.separator : UnicodeFolding.fold(scalar)
        if FoldedByte.isWordCharacter(folded) { break }
        position += length
      }
    }
    guard position < end else { return nil }
    let start = position
    key = PhraseWordKey()
    // Split camelCase ("ignorePrevious") only after two lowercase letters, so alternating case
    // ("IgNoRe") stays one word.
    var lowercaseRun = 0
    while position < end {
      let byte = base[position]
      var folded: UInt8
      var length = 1
      if byte < 0x80 {
        folded = fold[Int(byte)]
        if FoldedByte.isWordCharacter(folded) {
          let isUppercase = byte &- UInt8(ascii: "A") < 26
          if isUppercase && lowercaseRun >= 2 { break }
          lowercaseRun = byte &- UInt8(ascii: "a") < 26 ? lowercaseRun + 1 : 0
        }
      } else {
        let decoded = UnicodeFolding.decode(base, position, end)
        length = decoded.length
        folded = decoded.scalar == UnicodeFolding.invalid ? FoldedByte.separator : UnicodeFolding.fold(decoded.scalar)
        if FoldedByte.isWordCharacter(folded) { lowercaseRun = 0 }
      }
      if folded == FoldedByte.drop {
        position += length
        continue
      }
      guard FoldedByte.isWordCharacter(folded) else { break }
      key.append(folded)
      position += length
    }
    var after = position
    while after < end && (base[after] == UInt8(ascii: " ") || base[after] == 0x09) { after += 1 }
    let colonAfter = after < end && base[after] == UInt8(ascii: ":")
    return (start, breakBefore, colonAfter)
  }

  @inline(__always) static func isSentenceBreak(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "."), UInt8(ascii: "!"), UInt8(ascii: "?"), UInt8(ascii: ";"), UInt8(ascii: ":"), 0x0A, 0x0D:
      true
    default: false
    }
  }
}
