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
      // The next block holding an anchor, with one bit per anchored byte.
      let (block, blockHits) = Self.skipClean(bytes, count, from: index, scanner.anchorTable.pairs)
      index = block
      guard index &+ 8 <= count else { break }
      var hits = blockHits
      while hits != 0 {
        let position = index &+ hits.trailingZeroBitCount
        hits &= hits &- 1
        guard position >= resumeAt else { continue }
        let anchor = triggers[Int(bytes[position])] & precedes[Int(bytes[position &- 1])]
        // The commonest stops in JSON, rejected without a call: numbers with fewer than nine
        // digits (no card, SSN or phone number has fewer: ids, counts, prices, dates and times),
        // the closing quote of a value (no colon after it), keys that do not end like a secret word.
        if anchor == DLPScanner.Anchor.number.rawValue {
          let previous = bytes[position &- 1]
          if previous != UInt8(ascii: "+") && previous != UInt8(ascii: "(") {
            // 0 to 7: the run's length; 8: eight digits or more, a case for `inspectNumber`.
            let digits = text.leadingDigitCount(at: position)
            if digits < 3 { continue }
            if digits < 8 {
              let next = text[position &+ digits]
              let separated =
                (next == UInt8(ascii: " ") || next == UInt8(ascii: "-") || next == UInt8(ascii: "."))
                && ASCII.isDigit(text[position &+ digits &+ 1])
              // A custom keyword may start inside the number: then the digits are not passed over.
              if !separated {
                if scanner.customRules.isEmpty { resumeAt = position &+ digits }
                continue
              }
              // `2026-11-23T…`, `1234.99`: fewer than nine digits in the run of digits and
              // separators, so in any span it holds. Past the first group, only a group after a
              // space is another number's start: it is judged on its own.
              if let runDigits = text.digitsInNumberRun(at: position), runDigits < 9 {
                if scanner.customRules.isEmpty { resumeAt = position &+ digits }
                continue
              }
              let span = text.readSpan(from: position)
              if span.digitCount < 9 {
                // As `inspectNumber` does: after a space a group starts a number of its own.
                let end = span.separator == UInt8(ascii: " ") ? position &+ digits : span.end
                if scanner.customRules.isEmpty { resumeAt = end } else { digitResume = max(digitResume, end) }
                continue
              }
            }
          }
        } else if anchor == DLPScanner.Anchor.ibanDigits.rawValue {
          // A digit after an uppercase letter (`T10:00`, `SKU9`): an IBAN's check digits follow a
          // two-letter country code at a word start, nothing else matters here.
          if !(ASCII.isUpper(text[position &- 2]) && !ASCII.isAlphanumeric(text[position &- 3])) { continue }
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

  /// `run` without its fast paths (`DLPScanner.scanByteByByte`).
  mutating func runByteByByte() {
    let triggers = scanner.anchorTable.triggers
    let precedes = scanner.anchorTable.precedes
    var resumeAt = 0
    var index = 0
    while index < text.count && !finished {
      let anchor = triggers[Int(text.base[index])] & precedes[Int(text[index - 1])]
      if anchor != 0 && index >= resumeAt {
        resumeAt = inspect(at: index, anchor: DLPScanner.Anchor(rawValue: anchor))
      }
      index += 1
    }
    finish()
  }

  private mutating func finish() {
    if needsSort && matches.count - firstNewMatch > 1 {
      matches[firstNewMatch...].sort { ($0.offset, $0.length) < ($1.offset, $1.length) }
    }
  }

  /// The start of the first eight-byte block from `index` holding an anchor (or the first index
  /// with fewer than eight bytes left), and a bit per anchored byte of that block (bit 0 for the
  /// first byte). One pair-table entry per byte (`DLPAnchorTable.pairs`). Kept apart so the loop
  /// has all registers to itself.
  @inline(never)
  static func skipClean(
    _ bytes: UnsafePointer<UInt8>, _ count: Int, from start: Int, _ pairs: UnsafeMutablePointer<UInt8>
  ) -> (index: Int, hits: UInt32) {
    var index = start
    while index &+ 8 <= count {
      // The pair ending at each of the eight bytes, starting with the byte before the block.
      let at = UnsafeRawPointer(bytes + index - 1)
      @inline(__always) func pair(_ offset: Int) -> UInt32 {
        UInt32(pairs[Int(UInt16(littleEndian: at.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))])
      }
      let a0 = pair(0)
      let a1 = pair(1)
      let a2 = pair(2)
      let a3 = pair(3)
      let a4 = pair(4)
      let a5 = pair(5)
      let a6 = pair(6)
      let a7 = pair(7)
      if a0 | a1 | a2 | a3 | a4 | a5 | a6 | a7 != 0 {
        var hits = a0 | a1 << 1
        hits |= a2 << 2 | a3 << 3
        hits |= a4 << 4 | a5 << 5
        hits |= a6 << 6 | a7 << 7
        return (index, hits)
      }
      index &+= 8
    }
    return (index, 0)
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
