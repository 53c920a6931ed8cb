/// UTF-8 decoding and the Unicode half of phrase folding: full-width forms, common Cyrillic and
/// Greek homoglyphs, styled letters (mathematical, circled, squared), Latin-1 accents, and
/// invisible characters that are dropped.
enum UnicodeFolding {
  /// Decodes the scalar whose lead byte is at `index` (which must be < `end`). Invalid or truncated
  /// sequences decode as `invalid` with length 1 so the caller skips one byte and carries on.
  @inline(__always)
  static func decode(_ base: UnsafePointer<UInt8>, _ index: Int, _ end: Int) -> (scalar: UInt32, length: Int) {
    let lead = UInt32(base[index])
    if lead < 0x80 { return (lead, 1) }
    if lead < 0xC2 { return (invalid, 1) }
    if lead < 0xE0 {
      guard index + 1 < end, base[index + 1] & 0xC0 == 0x80 else { return (invalid, 1) }
      return ((lead & 0x1F) << 6 | UInt32(base[index + 1] & 0x3F), 2)
    }
    if lead < 0xF0 {
      guard index + 2 < end, base[index + 1] & 0xC0 == 0x80, base[index + 2] & 0xC0 == 0x80 else {
        return (invalid, 1)
      }
      let scalar = (lead & 0x0F) << 12 | UInt32(base[index + 1] & 0x3F) << 6 | UInt32(base[index + 2] & 0x3F)
      return scalar < 0x800 || (0xD800...0xDFFF).contains(scalar) ? (invalid, 1) : (scalar, 3)
    }
    if lead < 0xF5 {
      guard index + 3 < end, base[index + 1] & 0xC0 == 0x80, base[index + 2] & 0xC0 == 0x80,
        base[index + 3] & 0xC0 == 0x80
      else { return (invalid, 1) }
      let scalar =
        (lead & 0x07) << 18 | UInt32(base[index + 1] & 0x3F) << 12 | UInt32(base[index + 2] & 0x3F) << 6
        | UInt32(base[index + 3] & 0x3F)
      return scalar < 0x10000 || scalar > 0x10FFFF ? (invalid, 1) : (scalar, 4)
    }
    return (invalid, 1)
  }

  static let invalid: UInt32 = 0xFFFF_FFFF

  /// The folded byte (see `FoldedByte`) for a scalar at or above U+0080.
  static func fold(_ scalar: UInt32) -> UInt8 {
    switch scalar {
    case 0xC0...0xFF:
      return latin1[Int(scalar - 0xC0)]
    case 0x00AD, 0x0300...0x036F, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B...0x180F,
      0x200B...0x200F, 0x202A...0x202E, 0x2060...0x206F, 0x3164, 0xFE00...0xFE0F, 0xFEFF, 0xFFA0,
      0xE0000...0xE007F, 0xE0100...0xE01EF, 0x2018, 0x2019, 0x02BC:
      return FoldedByte.drop
    case 0x0131:
      return UInt8(ascii: "i")
    case 0x0370...0x03FF:
      return greek(scalar)
    case 0x0400...0x04FF, 0x0500...0x052F:
      return cyrillic(scalar)
    case 0x249C...0x24B5:
      return UInt8(ascii: "a") + UInt8(scalar - 0x249C)
    case 0x24B6...0x24CF:
      return UInt8(ascii: "a") + UInt8(scalar - 0x24B6)
    case 0x24D0...0x24E9:
      return UInt8(ascii: "a") + UInt8(scalar - 0x24D0)
    case 0xFF01...0xFF5E:
      return InjectionTables.shared.asciiFold[Int(scalar - 0xFEE0)]
    case 0x1D400...0x1D6A3:
      return UInt8(ascii: "a") + UInt8((scalar - 0x1D400) % 52 % 26)
    case 0x1D7CE...0x1D7FF:
      return InjectionTables.shared.asciiFold[Int(UInt8(ascii: "0") + UInt8((scalar - 0x1D7CE) % 10))]
    case 0x1F130...0x1F149:
      return UInt8(ascii: "a") + UInt8(scalar - 0x1F130)
    case 0x1F150...0x1F169:
      return UInt8(ascii: "a") + UInt8(scalar - 0x1F150)
    case 0x1F170...0x1F189:
      return UInt8(ascii: "a") + UInt8(scalar - 0x1F170)
    default:
      return FoldedByte.separator
    }
  }

  private static let latin1: [UInt8] = Array("aaaaaaaceeeeiiiidnooooo#ouuuuyts" + "aaaaaaaceeeeiiiidnooooo#ouuuuyty")
    .map {
      $0 == "#" ? FoldedByte.separator : ($0.asciiValue ?? FoldedByte.separator)
    }

  private static func greek(_ scalar: UInt32) -> UInt8 {
    switch scalar {
    case 0x0391, 0x03B1: UInt8(ascii: "a")
    case 0x0392: UInt8(ascii: "b")
    case 0x0395: UInt8(ascii: "e")
    case 0x0396: UInt8(ascii: "z")
    case 0x0397: UInt8(ascii: "h")
    case 0x0399, 0x03B9: UInt8(ascii: "i")
    case 0x039A, 0x03BA: UInt8(ascii: "k")
    case 0x039C: UInt8(ascii: "m")
    case 0x039D, 0x03B7: UInt8(ascii: "n")
    case 0x039F, 0x03BF: UInt8(ascii: "o")
    case 0x03A1, 0x03C1: UInt8(ascii: "p")
    case 0x03A4, 0x03C4: UInt8(ascii: "t")
    case 0x03A5, 0x03C5: UInt8(ascii: "u")
    case 0x03A7, 0x03C7: UInt8(ascii: "x")
    case 0x03BD: UInt8(ascii: "v")
    default: FoldedByte.separator
    }
  }

  private static func cyrillic(_ scalar: UInt32) -> UInt8 {
    switch scalar {
    case 0x0410, 0x0430: UInt8(ascii: "a")
    case 0x0412, 0x0432: UInt8(ascii: "b")
    case 0x0415, 0x0435, 0x0400, 0x0450, 0x0401, 0x0451: UInt8(ascii: "e")
    case 0x041A, 0x043A: UInt8(ascii: "k")
    case 0x041C, 0x043C: UInt8(ascii: "m")
    case 0x041D, 0x043D: UInt8(ascii: "h")
    case 0x041E, 0x043E: UInt8(ascii: "o")
    case 0x0420, 0x0440: UInt8(ascii: "p")
    case 0x0421, 0x0441: UInt8(ascii: "c")
    case 0x0422, 0x0442: UInt8(ascii: "t")
    case 0x0425, 0x0445: UInt8(ascii: "x")
    case 0x0423, 0x0443: UInt8(ascii: "y")
    case 0x0405, 0x0455: UInt8(ascii: "s")
    case 0x0406, 0x0456, 0x0407, 0x0457: UInt8(ascii: "i")
    case 0x0408, 0x0458: UInt8(ascii: "j")
    case 0x0501: UInt8(ascii: "d")
    case 0x051B: UInt8(ascii: "q")
    case 0x051D: UInt8(ascii: "w")
    default: FoldedByte.separator
    }
  }
}
