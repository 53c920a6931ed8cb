/// The state of one scan: the text, the matches so far and, per anchor family, the index below
/// which that family has already been examined (so a long run such as 64 KiB of digits or of
/// `sk-sk-sk-` is read once, not once per anchor byte).
struct DLPScan {
  let scanner: DLPScanner
  let text: DLPText
  let limit: Int
  var matches: [DLPMatch] = []
  var firstNewMatch = 0
  /// A match was appended before an earlier one (custom rules look behind their keyword).
  var needsSort = false
  /// The latest built-in match: where it sits in `matches`, which detector, which bytes.
  var lastBuiltin: (index: Int, detector: DLPDetector, range: Range<Int>)? = nil
  var finished = false

  var digitResume = 0
  var dashResume = 0
  var underscoreResume = 0
  var jwtResume = 0
  var assignmentResume = 0
  var custom: DLPCustomScanState

  init(scanner: DLPScanner, text: DLPText, limit: Int) {
    self.scanner = scanner
    self.text = text
    self.limit = limit
    self.custom = DLPCustomScanState(ruleCount: scanner.customRules.count)
  }

  @inline(__always)
  func isOn(_ detector: DLPDetector) -> Bool { scanner.enabled & detector.bit != 0 }

  mutating func run() {
    let triggers = scanner.anchorTable.triggers
    let precedes = scanner.anchorTable.precedes
    let bytes = text.base
    let count = text.count
    // The first byte has no predecessor: it counts as preceded by NUL, a non-word byte.
    // `inspect` may skip ahead (past a digit run): anchors before `resumeAt` are already covered.
    var resumeAt = 0
    var anchor = triggers[Int(bytes[0])] & precedes[0]
    if anchor != 0 { resumeAt = inspect(at: 0, anchor: DLPScanner.Anchor(rawValue: anchor)) }
    var index = 1
    while index &+ 8 <= count {
      index = Self.skipClean(bytes, count, from: index, scanner.anchorTable.combined)
      guard index &+ 8 <= count else { break }
      // Visit the anchors of the block in order.
      var hits: UInt32 = 0
      for offset in 0..<8 {
        let anchor = UInt32(triggers[Int(bytes[index &+ offset])] & precedes[Int(bytes[index &+ offset &- 1])])
        hits |= ((anchor &+ 0xFFFF) >> 16) << UInt32(offset)  // branch-free: 1 when anchor != 0
      }
      while hits != 0 {
        let position = index &+ hits.trailingZeroBitCount
        hits &= hits &- 1
        guard position >= resumeAt else { continue }
        let anchor = triggers[Int(bytes[position])] & precedes[Int(bytes[position &- 1])]
        // The commonest stops in JSON, rejected without a call: short numbers (no card, SSN or
        // phone number has fewer than nine digits or starts with a group of fewer than three), the
        // closing quote of a value (no colon after it), keys that do not end like a secret word.
        if anchor == DLPScanner.Anchor.number.rawValue {
          let previous = bytes[position &- 1]
          if previous != UInt8(ascii: "+") && previous != UInt8(ascii: "(") {
            let runEnd = text.runEnd(from: position, limit: 20, ASCII.isDigit)
            if runEnd &- position < 3 { continue }
            let next = text[runEnd]
            let separated =
              (next == UInt8(ascii: " ") || next == UInt8(ascii: "-") || next == UInt8(ascii: "."))
              && ASCII.isDigit(text[runEnd &+ 1])
            if runEnd &- position < 9 && !separated {
              // Skip the run, unless a custom keyword may start inside it.
              if scanner.customRules.isEmpty { resumeAt = runEnd }
              continue
            }
          }
        } else if anchor == DLPScanner.Anchor.quotedKey.rawValue {
          let next = text[position &+ 1]
          if next != UInt8(ascii: ":") && next != UInt8(ascii: " ") { continue }
          let keyEnd = bytes[position &- 1] == UInt8(ascii: "\\") ? position &- 1 : position
          if !text.hasSecretWordEnding(before: keyEnd) { continue }
        }
        resumeAt = inspect(at: position, anchor: DLPScanner.Anchor(rawValue: anchor))
        if finished { return finish() }
      }
      index = max(index &+ 8, resumeAt)
    }
    // The last bytes, one at a time.
    while index < count && !finished {
      anchor = triggers[Int(bytes[index])] & precedes[Int(bytes[index &- 1])]
      if anchor != 0 && index >= resumeAt {
        resumeAt = inspect(at: index, anchor: DLPScanner.Anchor(rawValue: anchor))
      }
      index &+= 1
    }
    finish()
  }

  private mutating func finish() {
    if needsSort && matches.count - firstNewMatch > 1 {
      matches[firstNewMatch...].sort { ($0.offset, $0.length) < ($1.offset, $1.length) }
    }
  }

  /// The start of the first eight-byte block from `index` holding an anchor (or the first index
  /// with fewer than eight bytes left). Kept apart so the loop has all registers to itself.
  @inline(never)
  static func skipClean(
    _ bytes: UnsafePointer<UInt8>, _ count: Int, from start: Int, _ table: UnsafeMutablePointer<UInt32>
  )
    -> Int
  {
    var index = start
    while index &+ 8 <= count {
      let at = bytes + index
      // One table entry per byte: its trigger bits below, the bits it may precede above.
      let e0 = table[Int(at[0])]
      let e1 = table[Int(at[1])]
      let e2 = table[Int(at[2])]
      let e3 = table[Int(at[3])]
      let e4 = table[Int(at[4])]
      let e5 = table[Int(at[5])]
      let e6 = table[Int(at[6])]
      let e7 = table[Int(at[7])]
      let before = table[Int(at[-1])]
      let any =
        (e0 & (before >> 16)) | (e1 & (e0 >> 16)) | (e2 & (e1 >> 16)) | (e3 & (e2 >> 16)) | (e4 & (e3 >> 16))
        | (e5 & (e4 >> 16)) | (e6 & (e5 >> 16)) | (e7 & (e6 >> 16))
      if any != 0 { return index }
      index &+= 8
    }
    return index
  }

  /// Runs the confirm checks of the families anchored at `index`; returns where the loop continues.
  @inline(never)
  mutating func inspect(at index: Int, anchor: DLPScanner.Anchor) -> Int {
    if let meter = text.meter { meter.inspections += 1 }
    if anchor.contains(.keywordPair) { inspectKeywords(at: index - 1, minimumLength: 2) }
    if anchor.contains(.keywordByte) { inspectKeywords(at: index, minimumLength: 1) }
    if anchor.contains(.number) || anchor.contains(.ibanDigits) {
      if index >= digitResume { digitResume = inspectNumber(at: index) }
      // With custom keywords about, every byte of a digit run may still start one.
      return scanner.customRules.isEmpty ? max(index + 1, digitResume) : index + 1
    }
    if anchor.contains(.at) { inspectEmail(at: index) }
    if anchor.contains(.upperA) { inspectUpperA(at: index) }
    if anchor.contains(.underscore) && index >= underscoreResume { inspectUnderscore(at: index) }
    if anchor.contains(.dash) && index >= dashResume { inspectDash(at: index) }
    if anchor.contains(.jwt) && index >= jwtResume { inspectJWT(at: index) }
    if anchor.contains(.hook) { inspectSlackWebhook(at: index) }
    if anchor.contains(.quotedKey) { inspectQuotedKey(at: index) }
    if anchor.contains(.assignment) && index >= assignmentResume { inspectAssignment(at: index) }
    return index + 1
  }

  /// Records a built-in match. Built-in matches do not overlap: a later one that overlaps an earlier
  /// one is dropped, except that any specific detector replaces `generic_secret` on the same bytes.
  mutating func record(_ detector: DLPDetector, _ range: Range<Int>) {
    guard !finished, !range.isEmpty else { return }
    // Built-ins are found in (nearly) offset order: only the latest one can overlap a new one.
    if let last = lastBuiltin, last.range.overlaps(range) {
      if last.detector == .genericSecret && detector != .genericSecret {
        matches[last.index] = DLPMatch(detector: detector.rawValue, offset: range.lowerBound, length: range.count)
        lastBuiltin = (last.index, detector, range)
        needsSort = true
      }
      return
    }
    lastBuiltin = (matches.count, detector, range)
    append(DLPMatch(detector: detector.rawValue, offset: range.lowerBound, length: range.count))
  }

  mutating func append(_ match: DLPMatch) {
    guard !finished else { return }
    if let last = matches.last, matches.count > firstNewMatch, last.offset > match.offset { needsSort = true }
    matches.append(match)
    if matches.count >= limit { finished = true }
  }

}
