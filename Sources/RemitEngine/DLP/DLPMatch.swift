/// One finding: which detector fired and where. Never the matched text.
public struct DLPMatch: Sendable, Equatable, Hashable {
  /// A built-in detector's raw value or a custom rule's id.
  public var detector: String
  /// Byte offset of the match start in the scanned buffer.
  public var offset: Int
  /// Length of the match in bytes.
  public var length: Int

  public init(detector: String, offset: Int, length: Int) {
    self.detector = detector
    self.offset = offset
    self.length = length
  }

  var end: Int { offset + length }
}
