/// Why a custom detector was refused. `code` is stable; `message` says what to change.
public struct DLPPatternError: Error, Sendable, Equatable, CustomStringConvertible {
  public var code: String
  public var message: String

  public init(code: String, message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { "\(code): \(message)" }
}
