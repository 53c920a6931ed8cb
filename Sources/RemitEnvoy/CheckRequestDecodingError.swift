/// Why the bytes Envoy sent are not a `CheckRequest`. The authorizer answers them with gRPC
/// `INVALID_ARGUMENT`, as it would for any undecodable message, so Envoy fails closed.
public struct CheckRequestDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
  public enum Code: String, Sendable {
    /// A field or a length runs past the end of its message.
    case truncated
    /// A tag, varint or group that no protobuf encoder writes.
    case malformed
    /// A `string` field that is not well-formed UTF-8.
    case invalidUTF8 = "invalid_utf8"
    /// Groups nested deeper than the protobuf runtime's limit of 100 messages.
    case tooDeep = "too_deep"
  }

  public let code: Code
  /// The message the problem is in, e.g. `AttributeContext.HttpRequest`.
  public let message: String

  init(_ code: Code, in message: String) {
    self.code = code
    self.message = message
  }

  public var description: String {
    "the CheckRequest is not valid protobuf (\(code.rawValue) in \(message)); check that the caller is an Envoy ext_authz v3 client"
  }
}
