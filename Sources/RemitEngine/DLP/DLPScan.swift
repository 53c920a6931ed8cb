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
    var index = 0
    var anchor = triggers[Int(bytes[0])] & precedes[0]
    if anchor != 0 {
      index = inspect(at: 0, anchor: DLPScanner.Anchor(rawValue: anchor))
    } else {
      index = 1
    }
    while index < count && !finished {
      // Clean text: eight pairs per branch.
      while index &+ 8 <= count {
        let at = bytes + index
        let any =
          (triggers[Int(at[0])] & precedes[Int(at[-1])]) | (triggers[Int(at[1])] & precedes[Int(at[0])])
          | (triggers[Int(at[2])] & precedes[Int(at[1])]) | (triggers[Int(at[3])] & precedes[Int(at[2])])
          | (triggers[Int(at[4])] & precedes[Int(at[3])]) | (triggers[Int(at[5])] & precedes[Int(at[4])])
          | (triggers[Int(at[6])] & precedes[Int(at[5])]) | (triggers[Int(at[7])] & precedes[Int(at[6])])
        if any != 0 { break }
        index &+= 8
      }
      anchor = 0
      while index < count {
        anchor = triggers[Int(bytes[index])] & precedes[Int(bytes[index &- 1])]
        if anchor != 0 { break }
        index &+= 1
      }
      guard anchor != 0 else { break }
      index = inspect(at: index, anchor: DLPScanner.Anchor(rawValue: anchor))
    }
    if needsSort && matches.count - firstNewMatch > 1 {
      matches[firstNewMatch...].sort { ($0.offset, $0.length) < ($1.offset, $1.length) }
    }
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
    let generic = DLPDetector.genericSecret.rawValue
    var index = matches.count - 1
    while index >= firstNewMatch {
      let existing = matches[index]
      if existing.end <= range.lowerBound && !isCustom(existing) { break }
      if !isCustom(existing) && existing.offset < range.upperBound && range.lowerBound < existing.end {
        if existing.detector == generic && detector != .genericSecret {
          matches[index] = DLPMatch(detector: detector.rawValue, offset: range.lowerBound, length: range.count)
          needsSort = true
        }
        return
      }
      index -= 1
    }
    append(DLPMatch(detector: detector.rawValue, offset: range.lowerBound, length: range.count))
  }

  mutating func append(_ match: DLPMatch) {
    guard !finished else { return }
    if let last = matches.last, matches.count > firstNewMatch, last.offset > match.offset { needsSort = true }
    matches.append(match)
    if matches.count >= limit { finished = true }
  }

  private func isCustom(_ match: DLPMatch) -> Bool { DLPDetector(rawValue: match.detector) == nil }
}
