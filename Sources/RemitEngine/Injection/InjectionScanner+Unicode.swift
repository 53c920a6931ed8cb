/// Invisible and smuggling Unicode: tag characters, variation selector runs, zero-width characters
/// and bidi controls. Also keeps word boundaries right across non-ASCII text for the phrase matcher.
extension InjectionScanner {
  /// Handles the UTF-8 sequence starting at `index` and returns where the next one starts.
  mutating func handleScalar(at index: Int, _ base: UnsafePointer<UInt8>) -> Int {
    let (scalar, length) = UnicodeFolding.decode(base, index, end)
    if index - runStart >= Self.minimumBase64Run { encodedRun(runStart, index) }
    let next = index + length
    runStart = next
    if scalar == UnicodeFolding.invalid || Self.isPlainNonLatinLetter(scalar) {
      boundaryEnd = next
      return next
    }
    switch scalar {
    case 0x1F3F4:
      // Black flag: the start of a subdivision flag ("England") whose tag characters are legitimate.
      let flagLength = emojiFlagTagSequenceLength(after: next, base)
      if flagLength > 0 {
        boundaryEnd = next + flagLength
        return next + flagLength
      }
    case 0xE0000...0xE007F:
      report(.tagCharacters, at: index)
    case 0xFE00...0xFE0F, 0xE0100...0xE01EF:
      // One selector after a base character is ordinary (emoji presentation, CJK variants); a run
      // of them carries one hidden byte per selector.
      if variationSelectorEnd == index {
        report(.variationSelectors, at: variationSelectorRunStart)
      } else {
        variationSelectorRunStart = index
      }
      variationSelectorEnd = next
    case 0x200B, 0x2060...0x2064, 0x180E, 0x3164, 0xFFA0, 0xFFF9...0xFFFB:
      report(.zeroWidth, at: index)
    case 0xFEFF:
      if index > 0 { report(.zeroWidth, at: index) }
    case 0x200C, 0x200D:
      // Joiners belong between emoji or letters of scripts that need them (Persian, Indic), never
      // between ASCII characters, and never two in a row.
      if joinerEnd == index {
        report(.zeroWidth, at: joinerRunStart)
      } else {
        joinerRunStart = index
        let previousIsASCII = index == 0 || base[index - 1] < 0x80
        let nextIsASCII = next >= end || base[next] < 0x80
        if previousIsASCII && nextIsASCII { report(.zeroWidth, at: index) }
      }
      joinerEnd = next
    case 0x200E, 0x200F:
      // Direction marks are ordinary in right-to-left text; inside an ASCII word they only hide.
      if index > 0 && next < end && Self.isASCIILetter(base[index - 1]) && Self.isASCIILetter(base[next]) {
        report(.zeroWidth, at: index)
      }
    case 0x202A...0x202E, 0x2066...0x2069:
      report(.bidiControl, at: index)
    default:
      break
    }
    let folded = scalar < 0x80 ? tables.asciiFold[Int(scalar)] : UnicodeFolding.fold(scalar)
    if folded == FoldedByte.separator {
      boundaryEnd = next
    } else if folded == FoldedByte.drop {
      if boundaryEnd == index { boundaryEnd = next }
    } else if isOn(.overridePhrase) && isWordStart(index, base) {
      verifyPivot(at: index)
    }
    return next
  }

  /// The length of a valid emoji subdivision-flag tag sequence starting at `start` (after U+1F3F4):
  /// 2 to 12 lowercase-letter or digit tags, then CANCEL TAG. 0 when there is none; an invalid one
  /// is reported as tag characters.
  private mutating func emojiFlagTagSequenceLength(after start: Int, _ base: UnsafePointer<UInt8>) -> Int {
    var position = start
    var tags = 0
    while position + 3 < end, base[position] == 0xF3, base[position + 1] == 0xA0, base[position + 2] & 0xFE == 0x80 {
      let scalar = 0xE0000 | UInt32(base[position + 2] & 0x3F) << 6 | UInt32(base[position + 3] & 0x3F)
      guard base[position + 3] & 0xC0 == 0x80 else { break }
      if scalar == 0xE007F {
        if (2...12).contains(tags) { return position + 4 - start }
        break
      }
      let isLowercaseOrDigit = (0xE0061...0xE007A).contains(scalar) || (0xE0030...0xE0039).contains(scalar)
      guard isLowercaseOrDigit, tags < 12 else { break }
      tags += 1
      position += 4
    }
    if position > start || tags > 0 { report(.tagCharacters, at: start) }
    return 0
  }

  /// Scripts with nothing to check and nothing to fold (Hebrew, Arabic, Indic, CJK, Hangul…):
  /// word separators for the phrase matcher, never a signal. A quick exit for non-Latin text.
  @inline(__always)
  static func isPlainNonLatinLetter(_ scalar: UInt32) -> Bool {
    switch scalar {
    case 0x0590...0x061B, 0x061D...0x17B3, 0x17B6...0x180A, 0x1810...0x1FFF, 0x3040...0x3163, 0x3165...0xD7FF,
      0xF900...0xFDFF:
      // 0x115F/0x1160 (Hangul fillers) are dropped when folding but not flagged; they stay here.
      return !(scalar == 0x115F || scalar == 0x1160)
    default:
      return false
    }
  }

  /// Whether a letter at `index` starts a word: after the start, an ASCII separator, or a
  /// non-ASCII separator (recorded in `boundaryEnd`).
  private func isWordStart(_ index: Int, _ base: UnsafePointer<UInt8>) -> Bool {
    if index == 0 || boundaryEnd == index { return true }
    let previous = base[index - 1]
    return previous < 0x80 && tables.asciiFold[Int(previous)] < FoldedByte.other
  }

  @inline(__always) static func isASCIILetter(_ byte: UInt8) -> Bool {
    (byte | 0x20) &- UInt8(ascii: "a") < 26
  }
}
