/// A JSON-RPC 2.0 body (MCP streamable HTTP and A2A): one message or a batch.
public struct JSONRPCPayload: Sendable {
  public enum MessageKind: Sendable, Equatable {
    case request
    case notification
    /// A reply the client sends to a server-initiated request (MCP sampling, elicitation).
    case response
  }

  public struct Message: Sendable {
    public var kind: MessageKind
    /// Nil for responses.
    public var method: String?
    /// The raw JSON text of `id`, echoed verbatim in a denial. Nil for notifications.
    public var idJSON: String?
    /// Index of `params` in the tape, if present.
    public var params: Int?
  }

  public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
  }

  public static let maximumBatchSize = 256

  public let tape: JSONTape
  public let messages: [Message]
  public let isBatch: Bool

  /// Whether a body looks like JSON-RPC at all: a batch array, or an object with a `jsonrpc` or
  /// `method` member. A plain REST JSON body to a destination with HTTP rules is not.
  public static func looksLikeJSONRPC(_ tape: JSONTape) -> Bool {
    switch tape[tape.root].kind {
    case .array: return true
    case .object:
      return tape.value(forKey: "jsonrpc" as StaticString, inObject: tape.root) != nil
        || tape.value(forKey: "method" as StaticString, inObject: tape.root) != nil
    default: return false
    }
  }

  /// Validates the JSON-RPC 2.0 shape of every message.
  public init(tape: JSONTape) throws(Failure) {
    self.tape = tape
    let root = tape[tape.root]
    switch root.kind {
    case .object:
      isBatch = false
      messages = [try Self.message(tape, tape.root)]
    case .array:
      isBatch = true
      let count = Int(root.count)
      guard count > 0 else { throw Failure(reason: "empty JSON-RPC batch") }
      guard count <= Self.maximumBatchSize else {
        throw Failure(reason: "JSON-RPC batch has more than \(Self.maximumBatchSize) messages")
      }
      var messages: [Message] = []
      messages.reserveCapacity(count)
      for element in tape.children(of: tape.root) {
        messages.append(try Self.message(tape, element))
      }
      self.messages = messages
    default:
      throw Failure(reason: "JSON-RPC body must be an object or a batch array")
    }
  }

  private static func message(_ tape: JSONTape, _ index: Int) throws(Failure) -> Message {
    guard tape[index].kind == .object else { throw Failure(reason: "JSON-RPC message is not an object") }
    // One pass over the members (the parser has rejected duplicate keys, so each is found once).
    var version: Int?
    var id: Int?
    var paramsValue: Int?
    var methodValue: Int?
    var hasResult = false
    var hasError = false
    var members = tape.children(of: index).makeIterator()
    while let key = members.next(), let value = members.next() {
      if tape.stringEquals(key, "jsonrpc" as StaticString) {
        version = value
      } else if tape.stringEquals(key, "id" as StaticString) {
        id = value
      } else if tape.stringEquals(key, "method" as StaticString) {
        methodValue = value
      } else if tape.stringEquals(key, "params" as StaticString) {
        paramsValue = value
      } else if tape.stringEquals(key, "result" as StaticString) {
        hasResult = true
      } else if tape.stringEquals(key, "error" as StaticString) {
        hasError = true
      }
    }
    guard let version, tape.stringEquals(version, "2.0" as StaticString) else {
      throw Failure(reason: "JSON-RPC message lacks \"jsonrpc\": \"2.0\"")
    }
    var idJSON: String?
    if let id {
      switch tape[id].kind {
      case .string, .number, .null: idJSON = tape.rawText(id)
      default: throw Failure(reason: "JSON-RPC id must be a string, number or null")
      }
    }
    var params: Int?
    if let value = paramsValue {
      guard tape[value].kind == .object || tape[value].kind == .array else {
        throw Failure(reason: "JSON-RPC params must be an object or an array")
      }
      params = value
    }
    if let method = methodValue {
      guard tape[method].kind == .string else { throw Failure(reason: "JSON-RPC method must be a string") }
      let name = tape.string(method)
      guard !name.isEmpty, name.utf8.count <= 256 else {
        throw Failure(reason: "JSON-RPC method name is empty or too long")
      }
      return Message(kind: idJSON == nil ? .notification : .request, method: name, idJSON: idJSON, params: params)
    }
    guard hasResult != hasError, idJSON != nil else {
      throw Failure(reason: "JSON-RPC message has neither a method nor exactly one of result and error with an id")
    }
    return Message(kind: .response, method: nil, idJSON: idJSON, params: nil)
  }

  /// A string member of a message's params object, such as `name` or `uri`.
  public func paramString(_ message: Message, _ key: String) -> String? {
    stringValue(message.params.flatMap { tape.value(forKey: key, inObject: $0) })
  }

  /// `paramString(_:_:)` for a key known when compiling (`name`, `uri`): what the engine asks.
  public func paramString(_ message: Message, _ key: StaticString) -> String? {
    stringValue(message.params.flatMap { tape.value(forKey: key, inObject: $0) })
  }

  private func stringValue(_ index: Int?) -> String? {
    guard let index, tape[index].kind == .string else { return nil }
    return tape.string(index)
  }
}
