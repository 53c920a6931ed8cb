/// Prompt-injection heuristics over one piece of text: a tool name, or one decoded JSON string
/// value of a request's arguments. Pure and allocation-free on clean text: a single pass over the
/// UTF-8 bytes with a byte-class table, phrase matching only where a rare "pivot" word starts.
///
/// Work is linear in the text length: every phrase window, decoded payload and lookahead is bounded,
/// and decoding of base64/hex payloads is capped at `maximumDecodedBytes` per call.
/// What each heuristic catches and misses: docs/injection.md.
public struct InjectionDetector: Sendable {
  /// The cap on bytes decoded from base64/hex runs per `inspect` call.
  public static let maximumDecodedBytes = 64 * 1024

  let enabled: UInt16
  /// Read once here rather than through `InjectionTables.shared` (a lazy global: a call per
  /// access) for every string a request's arguments hold.
  let tables = InjectionTables.shared

  /// A detector with every heuristic on.
  public init() {
    self.init(heuristics: Set(InjectionHeuristic.allCases))
  }

  /// A detector with only `heuristics` on (for evaluation and ablation).
  public init(heuristics: Set<InjectionHeuristic>) {
    enabled = heuristics.reduce(0) { $0 | $1.bit }
  }

  public var heuristics: Set<InjectionHeuristic> {
    Set(InjectionHeuristic.allCases.filter { enabled & $0.bit != 0 })
  }

  /// The first signal in `text` (UTF-8 bytes), or nil. Bounded work: linear in text length.
  /// "First" is the first one the left-to-right scan confirms; invalid UTF-8 is skipped.
  public func inspect(_ text: UnsafeBufferPointer<UInt8>) -> InjectionSignal? {
    if Self.isOneShortPlainWord(text, tables.byteClass) { return nil }
    var scanner = InjectionScanner(text, enabled: enabled, maximumSignals: 1, tables: tables)
    scanner.scan()
    return scanner.firstSignal
  }

  public func inspect(_ text: [UInt8]) -> InjectionSignal? {
    text.withUnsafeBufferPointer { inspect($0) }
  }

  public func inspect(_ text: String) -> InjectionSignal? {
    var text = text
    return text.withUTF8 { inspect($0) }
  }

  /// The first signal of each heuristic that fires, in scan order: for evaluations and reports
  /// that need to know every reason, not just the first. Same bounds as `inspect`.
  public func signals(in text: UnsafeBufferPointer<UInt8>) -> [InjectionSignal] {
    if Self.isOneShortPlainWord(text, tables.byteClass) { return [] }
    var signals: [InjectionSignal] = []
    withUnsafeMutablePointer(to: &signals) { collector in
      var scanner = InjectionScanner(
        text, enabled: enabled, maximumSignals: InjectionHeuristic.allCases.count, tables: tables,
        collector: collector)
      scanner.scan()
    }
    return signals
  }

  public func signals(in text: [UInt8]) -> [InjectionSignal] {
    text.withUnsafeBufferPointer { signals(in: $0) }
  }

  public func signals(in text: String) -> [InjectionSignal] {
    var text = text
    return text.withUTF8 { signals(in: $0) }
  }

  /// Lower-case ASCII letters and digits only, shorter than an encoded run: one word, which no
  /// heuristic can fire on (phrases take several words; tags, paths and credential names start
  /// at punctuation; the Unicode heuristics need non-ASCII). JSON keys and short values are
  /// mostly this, and skipping them saves a scanner per string.
  @inline(__always)
  static func isOneShortPlainWord(_ text: UnsafeBufferPointer<UInt8>, _ classes: UnsafePointer<UInt8>) -> Bool {
    guard text.count < InjectionScanner.minimumBase64Run else { return false }
    guard let base = text.baseAddress else { return true }
    // Eight bytes at a time, then the rest one by one.
    var index = 0
    while index &+ 8 <= text.count {
      let word = UInt64(littleEndian: UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
      if notLowercaseOrDigit(word) != 0 { return false }
      index &+= 8
    }
    while index < text.count {
      if classes[Int(base[index])] != 0 { return false }
      index &+= 1
    }
    return true
  }

  /// The high bit of each byte of `word` that is not `a`-`z` or `0`-`9`, the bytes whose
  /// `InjectionByteClass` is not 0. Exact for every byte: the high bits are cleared before the
  /// additions, so no carry crosses into the next byte.
  @inline(__always)
  static func notLowercaseOrDigit(_ word: UInt64) -> UInt64 {
    let highs: UInt64 = 0x8080_8080_8080_8080
    let ones: UInt64 = 0x0101_0101_0101_0101
    let low = word & 0x7F7F_7F7F_7F7F_7F7F
    let atLeastA = low &+ ones &* 0x1F  // high bit set from 0x61
    let pastZ = low &+ ones &* 0x05  // from 0x7B
    let atLeastZero = low &+ ones &* 0x50  // from 0x30
    let pastNine = low &+ ones &* 0x46  // from 0x3A
    let wordBytes = ((atLeastA & ~pastZ) | (atLeastZero & ~pastNine)) & highs
    return (~wordBytes & highs) | (word & highs)
  }
}
