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
  let tables = InjectionTables.shared

  private(set) var firstSignal: InjectionSignal?
  private(set) var collectedSignals: [InjectionSignal] = []
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
    decodeBudget: Int = InjectionDetector.maximumDecodedBytes
  ) {
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
    if maximumSignals > 1 { collectedSignals.append(signal) }
    if maximumSignals <= 1 || collectedSignals.count >= maximumSignals || enabled == 0 { stopped = true }
  }

  mutating func scan() {
    guard let base, end > 0, enabled != 0 else { return }
    scan(base, tables.byteClass, tables.prefixFold)
  }

  private mutating func scan(
    _ base: UnsafePointer<UInt8>, _ classes: UnsafePointer<UInt8>, _ keys: UnsafePointer<UInt8>
  ) {
    let end = self.end
    if base[0] < 0x80 && keys[Int(base[0])] != 0 { checkWordStart(0, base) }
    var index = 0
    while index < end {
      let byteClass = classes[Int(base[index])]
      if byteClass == 0 {
        index &+= 1
        continue
      }
      if byteClass == InjectionByteClass.plainBoundary {
        if index &- runStart >= Self.minimumBase64Run { encodedRun(runStart, index) }
        let next = index &+ 1
        runStart = next
        boundaryEnd = next
        if next < end {
          let nextByte = base[next]
          if nextByte < 0x80 && keys[Int(nextByte)] != 0 { checkWordStart(next, base) }
        }
        index = next
      } else if byteClass == InjectionByteClass.upper {
        // camelCase: "sendIgnorePrevious…" has a word start at the capital (after two lowercase
        // letters, so that alternating case "IgNoRe" stays one word).
        if index > 1 && base[index &- 1] &- UInt8(ascii: "a") < 26 && base[index &- 2] &- UInt8(ascii: "a") < 26 {
          checkWordStart(index, base)
        }
        index &+= 1
        continue
      } else {
        index = handle(index, byteClass, base)
      }
      if stopped { return }
    }
    if end - runStart >= Self.minimumBase64Run { encodedRun(runStart, end) }
  }

  /// Phrase prefilter at a word start: fold the next four bytes into a key and test the pivot
  /// bitmap; only a hit reads the whole word.
  @inline(__always)
  private mutating func checkWordStart(_ start: Int, _ base: UnsafePointer<UInt8>) {
    guard enabled & InjectionHeuristic.overridePhrase.bit != 0 else { return }
    if start &+ 4 <= end {
      let keys = tables.prefixFold
      let f0 = keys[Int(base[start])]
      let f1 = keys[Int(base[start &+ 1])]
      let f2 = keys[Int(base[start &+ 2])]
      let f3 = keys[Int(base[start &+ 3])]
      if (f0 | f1 | f2 | f3) & FoldedByte.needsDecoding == 0 {
        let key = UInt32(f0) | UInt32(f1) << 8 | UInt32(f2) << 16 | UInt32(f3) << 24
        let bit = PhraseCatalog.bitmapIndex(key)
        if tables.pivotBitmap[Int(bit >> 3)] & (1 << (bit & 7)) == 0 { return }
      }
    }
    verifyPivot(at: start)
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
