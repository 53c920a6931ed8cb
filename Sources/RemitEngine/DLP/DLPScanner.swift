/// Finds secrets and personal data in UTF-8 text: the built-in detectors of SPEC section 3 plus
/// custom keyword + regex rules. Built once per policy, shared by every request.
///
/// One pass over the bytes. Each detector family is anchored on a byte pair: a trigger byte (a
/// digit, `@`, `-`, `_`, `"`, `:`, `=`, `A`, `J`, `k`, a custom keyword's second byte) and what may
/// precede it (a digit starts a number only after a non-word byte; `-` matters only after `sk`,
/// `xoxb` or another `-`; `"` only closes a key ending like a secret word...). Two 256-entry tables
/// hold, per byte, the families it triggers and the families it may precede; a 65,536-entry pair
/// table built from them marks every (previous, current) byte pair where some family fires. The
/// loop reads it for eight bytes at a time, stops only at a marked pair, ANDs the two tables there
/// for the families, and runs their confirm checks.
/// Every confirm check reads a bounded number of bytes and long runs are read once, so a scan is
/// linear in the input whatever it holds. See docs/dlp.md for what each detector validates and misses.
public struct DLPScanner: Sendable {
  /// Detector families, one bit each in the anchor tables.
  struct Anchor: OptionSet, Sendable {
    let rawValue: UInt16
    /// A digit after a byte that can start a number: card, SSN, phone.
    static let number = Anchor(rawValue: 1 << 0)
    /// A digit after an uppercase letter: IBAN check digits.
    static let ibanDigits = Anchor(rawValue: 1 << 1)
    static let at = Anchor(rawValue: 1 << 2)
    /// `A` after a non-word byte: AWS, Google.
    static let upperA = Anchor(rawValue: 1 << 3)
    /// `_` after p o u s r (gh?_), k (sk_, rk_), b (github_).
    static let underscore = Anchor(rawValue: 1 << 4)
    /// `-` after k (sk-), a b p r s (xox?-) or `-` (-----BEGIN).
    static let dash = Anchor(rawValue: 1 << 5)
    /// `J` after `y`: the `eyJ` of a JWT.
    static let jwt = Anchor(rawValue: 1 << 6)
    /// `k` after `o`: hooks.slack.com.
    static let hook = Anchor(rawValue: 1 << 7)
    /// `"` after d t n y h (either case) or `\`: a JSON key that may end in a secret word.
    static let quotedKey = Anchor(rawValue: 1 << 8)
    /// `:` or `=` after d t n y h (either case): env, query, YAML assignments.
    static let assignment = Anchor(rawValue: 1 << 9)
    /// A custom keyword's second byte after its first.
    static let keywordPair = Anchor(rawValue: 1 << 10)
    /// A one-byte custom keyword.
    static let keywordByte = Anchor(rawValue: 1 << 11)
  }

  /// The enabled built-ins as a bit set indexed by `DLPDetector.bit`.
  let enabled: UInt32
  let customRules: [DLPCustomRule]
  let anchorTable: DLPAnchorTable
  /// Custom keyword entries per lowercased first byte.
  let keywordsByFirstByte: [[KeywordEntry]]

  struct KeywordEntry: Sendable {
    var rule: Int
    var keyword: [UInt8]
  }

  public init(builtins: Set<DLPDetector>, custom: [DLPCustomRule]) {
    var enabled: UInt32 = 0
    for detector in builtins { enabled |= detector.bit }
    self.enabled = enabled
    self.customRules = custom

    var triggers = [UInt16](repeating: 0, count: 256)
    var precedes = [UInt16](repeating: 0, count: 256)
    func mark(_ anchor: Anchor, triggers triggerBytes: some Sequence<UInt8>, after: some Sequence<UInt8>) {
      for byte in triggerBytes { triggers[Int(byte)] |= anchor.rawValue }
      for byte in after { precedes[Int(byte)] |= anchor.rawValue }
    }
    func has(_ detectors: DLPDetector...) -> Bool { detectors.contains { enabled & $0.bit != 0 } }
    let all = UInt8.min...UInt8.max
    let digits = "0123456789".utf8
    let secretWordEnds = "dtnyhDTNYH".utf8
    // '.', '-', '_' continue a token (3.14, 2026-11-23, uuid groups, snake_case_42): no number starts there.
    let numberStarts = all.filter { !ASCII.isAlphanumeric($0) && !".-_".utf8.contains($0) }
    if has(.creditCard, .usSSN, .phone) { mark(.number, triggers: digits, after: numberStarts) }
    if has(.iban) { mark(.ibanDigits, triggers: digits, after: "ABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8) }
    if has(.email) { mark(.at, triggers: "@".utf8, after: all.filter(DLPScan.isLocalPartByte)) }
    if has(.awsAccessKey, .googleAPIKey) {
      mark(.upperA, triggers: "A".utf8, after: all.filter { !ASCII.isAlphanumeric($0) })
    }
    if has(.githubToken, .stripeKey) { mark(.underscore, triggers: "_".utf8, after: "pousrkb".utf8) }
    if has(.openAIKey, .anthropicKey) { mark(.dash, triggers: "-".utf8, after: "k".utf8) }
    if has(.slackToken) { mark(.dash, triggers: "-".utf8, after: "abprs".utf8) }
    if has(.privateKey) { mark(.dash, triggers: "-".utf8, after: "-".utf8) }
    if has(.jwt) { mark(.jwt, triggers: "J".utf8, after: "y".utf8) }
    if has(.slackToken) { mark(.hook, triggers: "k".utf8, after: "o".utf8) }
    if has(.genericSecret) {
      mark(.quotedKey, triggers: "\"".utf8, after: Array(secretWordEnds) + [UInt8(ascii: "\\")])
      mark(.assignment, triggers: ":=".utf8, after: secretWordEnds)
    }

    var keywords = [[KeywordEntry]](repeating: [], count: 256)
    for (ruleIndex, rule) in custom.enumerated() {
      for keyword in rule.keywordBytes {
        guard let first = keyword.first else { continue }
        keywords[Int(first)].append(KeywordEntry(rule: ruleIndex, keyword: keyword))
        if keyword.count >= 2 {
          mark(.keywordPair, triggers: ASCII.bothCases(keyword[1]), after: ASCII.bothCases(first))
        } else {
          mark(.keywordByte, triggers: ASCII.bothCases(first), after: all)
        }
      }
    }
    self.anchorTable = DLPAnchorTable(triggers: triggers, precedes: precedes)
    self.keywordsByFirstByte = keywords
  }

  /// No built-in enabled and no custom rule: scanning finds nothing.
  public var isEmpty: Bool { enabled == 0 && customRules.isEmpty }

  /// Whether a built-in detector is on.
  public func isEnabled(_ detector: DLPDetector) -> Bool { enabled & detector.bit != 0 }

  /// Appends the matches in `bytes` to `matches` in offset order, stopping once `matches` holds
  /// `limit` entries in total (so one array can collect the findings of several scans under one
  /// cap). Under the cap the kept matches are the first found, not necessarily the first by
  /// offset: a custom rule's window reaches ahead of the scan. So a capped scan says nothing about
  /// the bytes after it; the engine rescans with its blocking detectors alone. Built-in matches never overlap each other; a specific detector wins over
  /// `generic_secret` for the same bytes. Custom rule matches may overlap built-in ones. Never
  /// throws, allocates nothing for clean bytes.
  public func scan(_ bytes: UnsafeBufferPointer<UInt8>, into matches: inout [DLPMatch], limit: Int) {
    guard !isEmpty, matches.count < limit, let base = bytes.baseAddress, !bytes.isEmpty else { return }
    var scan = DLPScan(scanner: self, text: DLPText(base: base, count: bytes.count), limit: limit)
    swap(&scan.matches, &matches)
    scan.firstNewMatch = scan.matches.count
    scan.run()
    swap(&scan.matches, &matches)
  }

  /// A scan that also reports the bytes its confirm checks read and how many anchors it inspected.
  func scanMeasuringWork(_ bytes: [UInt8], limit: Int = 64) -> (matches: [DLPMatch], bytesRead: Int, inspections: Int) {
    let meter = DLPWorkMeter()
    var matches: [DLPMatch] = []
    bytes.withUnsafeBufferPointer { buffer in
      guard !isEmpty, let base = buffer.baseAddress, !buffer.isEmpty else { return }
      var scan = DLPScan(scanner: self, text: DLPText(base: base, count: buffer.count, meter: meter), limit: limit)
      scan.run()
      matches = scan.matches
    }
    return (matches, meter.bytesRead, meter.inspections)
  }

  /// The reference the scan loop is tested against: every byte visited in turn and every anchor
  /// handed to its confirm checks, with none of the loop's block skipping or quick rejections.
  /// Slow; tests only.
  func scanByteByByte(_ bytes: [UInt8], limit: Int = 64) -> [DLPMatch] {
    var matches: [DLPMatch] = []
    bytes.withUnsafeBufferPointer { buffer in
      guard !isEmpty, let base = buffer.baseAddress, !buffer.isEmpty else { return }
      var scan = DLPScan(scanner: self, text: DLPText(base: base, count: buffer.count), limit: limit)
      scan.runByteByByte()
      matches = scan.matches
    }
    return matches
  }

  /// The matches in `bytes`, at most `limit`, in offset order.
  public func scan(_ bytes: [UInt8], limit: Int = 64) -> [DLPMatch] {
    var matches: [DLPMatch] = []
    bytes.withUnsafeBufferPointer { scan($0, into: &matches, limit: limit) }
    return matches
  }
}

extension DLPDetector {
  var bit: UInt32 {
    switch self {
    case .creditCard: 1 << 0
    case .usSSN: 1 << 1
    case .iban: 1 << 2
    case .email: 1 << 3
    case .phone: 1 << 4
    case .awsAccessKey: 1 << 5
    case .githubToken: 1 << 6
    case .slackToken: 1 << 7
    case .stripeKey: 1 << 8
    case .googleAPIKey: 1 << 9
    case .openAIKey: 1 << 10
    case .anthropicKey: 1 << 11
    case .privateKey: 1 << 12
    case .jwt: 1 << 13
    case .genericSecret: 1 << 14
    }
  }
}

/// The anchor tables in memory of their own, so the scan loop indexes plain pointers (no array
/// bounds or uniqueness checks): `triggers[byte]` and `precedes[byte]`, 256 entries each, and the
/// pair table built from them. Written once in `init`, read-only after.
final class DLPAnchorTable: @unchecked Sendable {
  let triggers: UnsafeMutablePointer<UInt16>
  let precedes: UnsafeMutablePointer<UInt16>
  /// 1 where a byte pair is an anchor, indexed by `previous | byte << 8` (a little-endian load of
  /// the two bytes): the clean skip loads one entry per byte and tests it, no shifts or masks.
  /// 64 KiB; text touches few of its rows.
  let pairs: UnsafeMutablePointer<UInt8>

  init(triggers triggerValues: [UInt16], precedes precedeValues: [UInt16]) {
    triggers = .allocate(capacity: 512)
    triggers.initialize(repeating: 0, count: 512)
    precedes = triggers + 256
    for (index, value) in triggerValues.prefix(256).enumerated() { triggers[index] = value }
    for (index, value) in precedeValues.prefix(256).enumerated() { precedes[index] = value }
    pairs = .allocate(capacity: 1 << 16)
    for previous in 0..<256 {
      for byte in 0..<256 {
        pairs[previous | byte << 8] = triggers[byte] & precedes[previous] != 0 ? 1 : 0
      }
    }
  }

  deinit {
    triggers.deallocate()
    pairs.deallocate()
  }
}
