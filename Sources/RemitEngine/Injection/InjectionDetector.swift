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
    if Self.isOneShortPlainWord(text) { return nil }
    var scanner = InjectionScanner(text, enabled: enabled, maximumSignals: 1)
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
    if Self.isOneShortPlainWord(text) { return [] }
    var scanner = InjectionScanner(text, enabled: enabled, maximumSignals: InjectionHeuristic.allCases.count)
    scanner.scan()
    return scanner.collectedSignals
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
  static func isOneShortPlainWord(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
    guard text.count < InjectionScanner.minimumBase64Run else { return false }
    let classes = InjectionTables.shared.byteClass
    for byte in text where classes[Int(byte)] != 0 { return false }
    return true
  }
}
