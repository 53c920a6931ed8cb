/// Per-scan state of the custom rules: how far each rule's windows have covered, how many regex
/// runs the scan has spent.
struct DLPCustomScanState {
  /// The end of the last window each rule ran its regex over.
  var windowEnd: [Int]
  /// The end of the last match each rule reported (its matches do not overlap each other).
  var matchEnd: [Int]
  var regexRuns = 0

  /// Regex runs per scan, whatever the input: 64 KiB of keywords costs at most this many windows.
  static let maximumRegexRuns = 512

  init(ruleCount: Int) {
    windowEnd = Array(repeating: 0, count: ruleCount)
    matchEnd = Array(repeating: 0, count: ruleCount)
  }
}

extension DLPScan {
  /// Compares the custom keywords of at least `minimumLength` bytes that start at `index` and runs
  /// the rule's regex around each hit. (Longer keywords are anchored on their first two bytes,
  /// one-byte keywords on that byte.)
  mutating func inspectKeywords(at index: Int, minimumLength: Int) {
    guard index >= 0 else { return }
    let entries = scanner.keywordsByFirstByte[Int(ASCII.lowercased(text.base[index]))]
    for entry in entries
    where (minimumLength == 1 ? entry.keyword.count == 1 : entry.keyword.count >= 2)
      && matchesKeyword(entry.keyword, at: index)
    {
      runRule(entry.rule, keywordRange: index..<(index + entry.keyword.count))
      if finished { return }
    }
  }

  private func matchesKeyword(_ keyword: [UInt8], at index: Int) -> Bool {
    guard index + keyword.count <= text.count else { return false }
    for (offset, byte) in keyword.enumerated() where ASCII.lowercased(text.base[index + offset]) != byte {
      return false
    }
    return true
  }

  private mutating func runRule(_ ruleIndex: Int, keywordRange: Range<Int>) {
    let window = DLPCustomRule.window
    // A hit whose following context the previous window already covered adds nothing new.
    guard keywordRange.upperBound + window / 2 > custom.windowEnd[ruleIndex] || custom.windowEnd[ruleIndex] == 0,
      custom.regexRuns < DLPCustomScanState.maximumRegexRuns
    else { return }
    custom.regexRuns += 1
    var start = max(0, keywordRange.lowerBound - window)
    var end = min(text.count, keywordRange.upperBound + window)
    // Whole UTF-8 characters only: step over continuation bytes at either edge.
    while start < keywordRange.lowerBound && text.base[start] & 0xC0 == 0x80 { start += 1 }
    while end > keywordRange.upperBound && end < text.count && text.base[end] & 0xC0 == 0x80 { end -= 1 }
    custom.windowEnd[ruleIndex] = end

    let rule = scanner.customRules[ruleIndex]
    let windowText = Self.windowString(text.buffer(start..<end))
    let utf8 = windowText.utf8
    for match in windowText.matches(of: rule.compiled.regex) {
      let offset = start + utf8.distance(from: utf8.startIndex, to: match.range.lowerBound)
      let length = utf8.distance(from: match.range.lowerBound, to: match.range.upperBound)
      guard length > 0, offset >= custom.matchEnd[ruleIndex] else { continue }
      if let validator = rule.validator,
        !Self.validate(validator, text.buffer(0..<text.count), offset..<(offset + length))
      {
        continue
      }
      custom.matchEnd[ruleIndex] = offset + length
      append(DLPMatch(detector: rule.id, offset: offset, length: length))
      if finished { return }
    }
  }

  /// The window as a String with the same byte offsets: invalid UTF-8 becomes U+001A byte for byte
  /// rather than U+FFFD (three bytes), so offsets in the string are offsets in the body.
  static func windowString(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
    if let valid = String(validating: bytes, as: UTF8.self) { return valid }
    return String(decoding: bytes.map { $0 < 0x80 ? $0 : 0x1A }, as: UTF8.self)
  }

  static func validate(_ validator: DLPValidator, _ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
    switch validator {
    case .luhn: DLPChecksum.luhnIsValid(text, range, minimumDigits: 8)
    case .mod97: DLPChecksum.mod97IsValid(text, range, minimumCharacters: 5)
    }
  }
}
