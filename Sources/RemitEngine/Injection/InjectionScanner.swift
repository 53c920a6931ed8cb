/// One scan of one text. The hot loop skips letters and digits with a single table load; spaces
/// and punctuation take a short inline path (end of a candidate base64 run, start of a word); the
/// rest (non-ASCII, tag and path punctuation, camelCase boundaries) goes out of line.
struct InjectionScanner {
  static let minimumBase64Run = 24
  static let minimumHexRun = 32

  let base: UnsafePointer<UInt8>?
  let end: Int
  /// Heuristics still to look for: a heuristic is switched off once it has fired.
  var enabled: UInt16
  let maximumSignals: Int
  var decodeBudget: Int
  let tables: InjectionTables

  private(set) var firstSignal: InjectionSignal?
  /// Where every signal goes when more than one is wanted (`InjectionDetector.signals(in:)`).
  /// A pointer rather than an array field, so the scanner holds nothing to release: a request's
  /// arguments create a scanner per string.
  let collector: UnsafeMutablePointer<[InjectionSignal]>?
  private(set) var collectedCount = 0
  var stopped = false

  /// Where the current run of base64-alphabet bytes started.
  var runStart = 0
  /// The end of the last separator seen by an out-of-line path: a non-ASCII letter right here starts a word.
  var boundaryEnd = 0
  /// Phrase anchors before this offset have been tried already.
  var phraseCoveredUntil = 0
  var variationSelectorRunStart = -1
  var variationSelectorEnd = -1
  var joinerRunStart = -1
  var joinerEnd = -1

  init(
    _ text: UnsafeBufferPointer<UInt8>, enabled: UInt16, maximumSignals: Int,
    decodeBudget: Int = InjectionDetector.maximumDecodedBytes, tables: InjectionTables = .shared,
    collector: UnsafeMutablePointer<[InjectionSignal]>? = nil
  ) {
    self.tables = tables
    self.collector = collector
    base = text.baseAddress
    end = text.count
    self.enabled = enabled
    self.maximumSignals = maximumSignals
    self.decodeBudget = decodeBudget
  }

  @inline(__always) func isOn(_ heuristic: InjectionHeuristic) -> Bool { enabled & heuristic.bit != 0 }

  mutating func report(_ heuristic: InjectionHeuristic, at offset: Int) {
    guard isOn(heuristic) else { return }
    enabled &= ~heuristic.bit
    let signal = InjectionSignal(heuristic: heuristic, offset: offset)
    if firstSignal == nil { firstSignal = signal }
    if maximumSignals > 1 {
      collector?.pointee.append(signal)
      collectedCount += 1
    }
    if maximumSignals <= 1 || collectedCount >= maximumSignals || enabled == 0 { stopped = true }
  }

  mutating func scan() {
    guard let base, end > 0, enabled != 0 else { return }
    scan(base, tables.byteClass, tables.prefixFold)
  }

  private mutating func scan(
    _ base: UnsafePointer<UInt8>, _ classes: UnsafePointer<UInt8>, _ keys: UnsafePointer<UInt8>
  ) {
    let end = self.end
    let bitmap = tables.pivotBitmap
    let phraseOn = isOn(.overridePhrase)
    if base[0] < 0x80 && keys[Int(base[0])] != 0 { checkWordStart(0, base) }
    // The run start lives in a register on the fast path and in `self` around out-of-line calls.
    var run = runStart
    var index = 0
    while !stopped {
      // Letters and digits: the common case, a tight loop of one table load per byte.
      while index < end && classes[Int(base[index])] == 0 { index &+= 1 }
      guard index < end else { break }
      let byteClass = classes[Int(base[index])]
      var boundaryOnly = byteClass == InjectionByteClass.plainBoundary
      var breaksRun = true
      if !boundaryOnly && byteClass & InjectionByteClass.special != 0 && !Self.needsSpecialPath(base, index, end) {
        // Punctuation whose neighbours rule out a tag, a path or a key name: an ordinary boundary.
        boundaryOnly = true
        breaksRun = byteClass & InjectionByteClass.runBreak != 0
      }
      if boundaryOnly {
        if breaksRun && index &- run >= Self.minimumBase64Run {
          runStart = run
          encodedRun(run, index)
        }
        index &+= 1
        if breaksRun { run = index }
        // Word start after a space: fold the next four bytes into a key, test the pivot bitmap.
        guard phraseOn && index < end else { continue }
        let first = base[index]
        if first >= 0x80 || keys[Int(first)] == 0 { continue }
        if let key = Self.asciiPrefixKey(base + index, available: end &- index, keys) {
          let bit = PhraseCatalog.bitmapIndex(key)
          if bitmap[Int(bit >> 3)] & (1 << (bit & 7)) == 0 { continue }
        }
        runStart = run
        verifyPivot(at: index)
        continue
      }
      runStart = run
      if byteClass == InjectionByteClass.upper {
        // camelCase: "sendIgnorePrevious…" has a word start at the capital (after two lowercase
        // letters, so that alternating case "IgNoRe" stays one word).
        if index > 1 && base[index &- 1] &- UInt8(ascii: "a") < 26 && base[index &- 2] &- UInt8(ascii: "a") < 26 {
          checkWordStart(index, base)
        }
        index &+= 1
      } else {
        index = handle(index, byteClass, base)
      }
      run = runStart
    }
    runStart = run
    if !stopped && end - runStart >= Self.minimumBase64Run { encodedRun(runStart, end) }
  }

  /// Phrase prefilter at a word start: fold the next four bytes into a key and test the pivot
  /// bitmap; only a hit reads the whole word.
  @inline(__always)
  private mutating func checkWordStart(_ start: Int, _ base: UnsafePointer<UInt8>) {
    guard enabled & InjectionHeuristic.overridePhrase.bit != 0 else { return }
    if start < end, let key = Self.asciiPrefixKey(base + start, available: end &- start, tables.prefixFold) {
      let bit = PhraseCatalog.bitmapIndex(key)
      if tables.pivotBitmap[Int(bit >> 3)] & (1 << (bit & 7)) == 0 { return }
    }
    verifyPivot(at: start)
  }

  /// Whether the special byte at `index` could begin what its matcher looks for, judged from its
  /// neighbours only: a dot after a name character is an extension or a sentence end, not a
  /// dotfile; `<`, `[` and `#` need a tag-like byte after them; `/` a credential path initial; `_`
  /// an `id` before it or an `n` after it. Line breaks always take the special path.
  @inline(__always)
  static func needsSpecialPath(_ base: UnsafePointer<UInt8>, _ index: Int, _ end: Int) -> Bool {
    let byte = base[index]
    let next: UInt8 = index &+ 1 < end ? base[index &+ 1] : 0
    switch byte {
    case UInt8(ascii: "."):
      return index == 0 || !isNameByte(base[index &- 1])
    case UInt8(ascii: "<"):
      return next == UInt8(ascii: "|") || next == UInt8(ascii: "<") || next == UInt8(ascii: "/") || isTagNameStart(next)
    case UInt8(ascii: "["):
      return isASCIILetter(next) || next == UInt8(ascii: "/")
    case UInt8(ascii: "#"):
      return next == UInt8(ascii: "#")
    case UInt8(ascii: "/"):
      switch next {
      case UInt8(ascii: "e"), UInt8(ascii: "p"), UInt8(ascii: "v"), UInt8(ascii: "r"): return true
      default: return false
      }
    case UInt8(ascii: "_"):
      return lowercased(next) == UInt8(ascii: "n")
        || (index >= 2 && lowercased(base[index &- 1]) == UInt8(ascii: "d")
          && lowercased(base[index &- 2]) == UInt8(ascii: "i"))
    default:
      return true
    }
  }

  /// The phrase prefix key of the word starting at `word` (`available` readable bytes, at least
  /// one): its first four letters lowercased, zero-padded after a shorter word; the end of the
  /// text reads as zero bytes, a separator. Computed with one load and a few bit operations (SWAR).
  /// A digit or `@` among the first four folds through `fold` (`FoldedByte.prefixKeyTable`), so
  /// leetspeak keeps its key and ids and dates get one no pivot has. Nil when the bytes need the
  /// word reader: non-ASCII or an apostrophe inside the first four.
  @inline(__always)
  static func asciiPrefixKey(_ word: UnsafePointer<UInt8>, available: Int, _ fold: UnsafePointer<UInt8>) -> UInt32? {
    var raw: UInt32
    if available >= 4 {
      raw = UInt32(littleEndian: UnsafeRawPointer(word).loadUnaligned(as: UInt32.self))
    } else {
      // A short tail (keys such as "id" or "sku", the end of a value) without reading past it.
      raw = UInt32(word[0])
      if available > 1 { raw |= UInt32(word[1]) << 8 }
      if available > 2 { raw |= UInt32(word[2]) << 16 }
    }
    return asciiPrefixKey(raw, fold)
  }

  @inline(__always)
  static func asciiPrefixKey(_ raw: UInt32, _ fold: UnsafePointer<UInt8>) -> UInt32? {
    guard raw & 0x8080_8080 == 0 else { return nil }
    let lower = raw | 0x2020_2020
    // High bit of each byte set when that byte is a letter (a-z after lowering).
    let letters = (lower &+ 0x1F1F_1F1F) & ~(lower &+ 0x0505_0505) & 0x8080_8080
    // Branch-free: word length varies from word to word, so a branch on it would mispredict.
    let shift = UInt64((~letters & 0x8080_8080).trailingZeroBitCount &>> 3 &* 8)  // 32 for four letters
    let other = UInt8(truncatingIfNeeded: UInt64(raw) &>> shift)
    if other &- UInt8(ascii: "0") < 10 || other == UInt8(ascii: "@") { return foldedPrefixKey(raw, fold) }
    if other == UInt8(ascii: "'") { return nil }
    return lower & UInt32(truncatingIfNeeded: (1 &<< shift) &- 1)
  }

  /// The prefix key of four ASCII bytes folded one by one, as the word reader folds them: up to
  /// the first separator; nil at an apostrophe (dropped inside words: the reader decides).
  @inline(never)
  static func foldedPrefixKey(_ raw: UInt32, _ fold: UnsafePointer<UInt8>) -> UInt32? {
    var key: UInt32 = 0
    for byteIndex in 0..<4 {
      let folded = fold[Int(truncatingIfNeeded: (raw >> UInt32(byteIndex * 8)) & 0xFF)]
      if folded == FoldedByte.separator { break }
      if folded == FoldedByte.drop || folded == FoldedByte.needsDecoding { return nil }
      key |= UInt32(folded) << UInt32(byteIndex * 8)
    }
    return key
  }

  @inline(never)
  private mutating func handle(_ index: Int, _ byteClass: UInt8, _ base: UnsafePointer<UInt8>) -> Int {
    if byteClass & InjectionByteClass.nonASCII != 0 {
      let next = handleScalar(at: index, base)
      if boundaryEnd == next && next < end {
        let nextByte = base[next]
        if nextByte < 0x80 && tables.prefixFold[Int(nextByte)] != 0 { checkWordStart(next, base) }
      }
      return next
    }
    if byteClass & InjectionByteClass.runBreak != 0 {
      if index - runStart >= Self.minimumBase64Run { encodedRun(runStart, index) }
      runStart = index + 1
    }
    if byteClass & InjectionByteClass.special != 0 {
      switch base[index] {
      case UInt8(ascii: "<"): if isOn(.hiddenTag) { angleTag(at: index) }
      case UInt8(ascii: "["): if isOn(.hiddenTag) { bracketTag(at: index) }
      case UInt8(ascii: "#"): if isOn(.hiddenTag) { hashHeading(at: index) }
      case UInt8(ascii: "."): if isOn(.credentialReference) { dotName(at: index) }
      case UInt8(ascii: "/"): if isOn(.credentialReference) { rootPath(at: index) }
      case UInt8(ascii: "_"): if isOn(.credentialReference) { underscoreName(at: index) }
      default: lineBreak(at: index, base)
      }
      if stopped { return end }
    }
    if byteClass & InjectionByteClass.boundary != 0 {
      let next = index + 1
      boundaryEnd = next
      if next < end {
        let nextByte = base[next]
        if nextByte < 0x80 && tables.prefixFold[Int(nextByte)] != 0 { checkWordStart(next, base) }
      }
    }
    return index + 1
  }

  /// A line break ends a candidate run unless it wraps a long base64 block (MIME-style lines).
  private mutating func lineBreak(at index: Int, _ base: UnsafePointer<UInt8>) {
    if index - runStart >= Self.minimumBase64Run {
      var next = index + 1
      if next < end && base[next] == 0x0A { next += 1 }
      if next < end && Self.isBase64Byte(base[next]) { return }
      encodedRun(runStart, index)
    }
    runStart = index + 1
  }

  @inline(__always) static func isBase64Byte(_ byte: UInt8) -> Bool {
    byte &- UInt8(ascii: "a") < 26 || byte &- UInt8(ascii: "A") < 26 || byte &- UInt8(ascii: "0") < 10
      || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "-")
      || byte == UInt8(ascii: "_")
  }
}
