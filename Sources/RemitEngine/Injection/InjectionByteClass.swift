/// Per-byte classes for the scanner's hot loop. Letters and digits are 0, so clean words cost one
/// table load and a branch per byte; everything else sets bits saying what the byte can start or end.
enum InjectionByteClass {
  /// After this byte a new word can start (whitespace, punctuation).
  static let boundary: UInt8 = 1 << 0
  /// Not in the base64 (standard or url-safe) alphabet: ends a candidate encoded run.
  static let runBreak: UInt8 = 1 << 1
  /// Dispatched by value: tags (`<`, `[`, `#`), paths (`.`, `/`, `_`), line breaks.
  static let special: UInt8 = 1 << 2
  /// ASCII uppercase: a camelCase word boundary when it follows a lowercase letter.
  static let upper: UInt8 = 1 << 3
  /// A UTF-8 lead or continuation byte: decoded by the Unicode path.
  static let nonASCII: UInt8 = 1 << 4
  /// The common case worth a fast path: a plain space or punctuation.
  static let plainBoundary: UInt8 = boundary | runBreak

  static let table: [UInt8] = {
    var table = [UInt8](repeating: plainBoundary, count: 256)
    for byte in 0x80...0xFF { table[byte] = nonASCII }
    for byte in UInt8(ascii: "a")...UInt8(ascii: "z") { table[Int(byte)] = 0 }
    for byte in UInt8(ascii: "0")...UInt8(ascii: "9") { table[Int(byte)] = 0 }
    for byte in UInt8(ascii: "A")...UInt8(ascii: "Z") { table[Int(byte)] = upper }
    // In the base64 alphabets, but still word boundaries for phrases.
    table[Int(UInt8(ascii: "+"))] = boundary
    table[Int(UInt8(ascii: "-"))] = boundary
    table[Int(UInt8(ascii: "/"))] = boundary | special
    table[Int(UInt8(ascii: "_"))] = boundary | special
    // Apostrophes join words ("don't" reads as "dont"); `@` is leetspeak for a.
    table[Int(UInt8(ascii: "'"))] = runBreak
    table[Int(UInt8(ascii: "@"))] = runBreak
    for byte in [UInt8(ascii: "<"), UInt8(ascii: "["), UInt8(ascii: "#"), UInt8(ascii: ".")] {
      table[Int(byte)] = plainBoundary | special
    }
    // Line breaks may continue a line-wrapped base64 run; the special path decides.
    table[0x0A] = boundary | special
    table[0x0D] = boundary | special
    return table
  }()
}

/// Folding of characters for phrase matching: lowercase ASCII letters, leetspeak digits, and the
/// markers below. Shared by the hot loop (prefix keys) and the word reader.
enum FoldedByte {
  /// Ends a word.
  static let separator: UInt8 = 0
  /// Ignored inside and between words (zero-width characters, apostrophes, combining marks).
  static let drop: UInt8 = 1
  /// Part of a word but never part of a vocabulary word (digits without a leetspeak reading).
  static let other: UInt8 = UInt8(ascii: "#")
  /// In `prefixKeyTable`: the byte needs the slow path (non-ASCII or apostrophe).
  static let needsDecoding: UInt8 = 0x80

  @inline(__always) static func isWordCharacter(_ folded: UInt8) -> Bool { folded >= other }

  /// ASCII byte → folded byte (bytes >= 0x80 are `separator` here; the Unicode path folds them).
  static let asciiTable: [UInt8] = {
    var table = [UInt8](repeating: separator, count: 256)
    for byte in UInt8(ascii: "a")...UInt8(ascii: "z") { table[Int(byte)] = byte }
    for byte in UInt8(ascii: "A")...UInt8(ascii: "Z") { table[Int(byte)] = byte | 0x20 }
    for byte in UInt8(ascii: "0")...UInt8(ascii: "9") { table[Int(byte)] = other }
    let leetspeak: [(Character, Character)] = [
      ("0", "o"), ("1", "i"), ("3", "e"), ("4", "a"), ("5", "s"), ("7", "t"), ("@", "a"),
    ]
    for (digit, letter) in leetspeak {
      table[Int(digit.asciiValue ?? 0)] = letter.asciiValue ?? other
    }
    table[Int(UInt8(ascii: "'"))] = drop
    return table
  }()

  /// Like `asciiTable`, but bytes the hot loop cannot fold alone map to `needsDecoding`.
  static let prefixKeyTable: [UInt8] = {
    var table = asciiTable
    for byte in 0x80...0xFF { table[byte] = needsDecoding }
    table[Int(UInt8(ascii: "'"))] = needsDecoding
    return table
  }()
}
