/// Evidence of a likely prompt injection: which heuristic fired and where. It never carries the
/// matched text, so it is safe to put in findings and logs.
public struct InjectionSignal: Sendable, Equatable, CustomStringConvertible {
  public var heuristic: InjectionHeuristic
  /// Byte offset in the inspected text where the evidence starts (for an encoded payload, where
  /// the encoded run starts).
  public var offset: Int

  public init(heuristic: InjectionHeuristic, offset: Int) {
    self.heuristic = heuristic
    self.offset = offset
  }

  public var description: String { "\(heuristic.rawValue)@\(offset)" }
}
