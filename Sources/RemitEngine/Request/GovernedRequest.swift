/// What the engine decides on: the facts of one request, independent of Envoy's wire format.
public struct GovernedRequest: Sendable {
  /// `attributes.source.principal`; empty when the caller presented no certificate.
  public var sourcePrincipal: String
  /// `attributes.destination.principal`: the inbound sidecar's own identity.
  public var destinationPrincipal: String
  /// `attributes.destination.service`, used for TCP egress checks.
  public var destinationService: String
  /// `attributes.tls_session.sni`, used for TCP egress checks.
  public var tlsServerName: String
  /// Nil for a network (TCP) check.
  public var http: HTTPRequest?

  public init(
    sourcePrincipal: String = "",
    destinationPrincipal: String = "",
    destinationService: String = "",
    tlsServerName: String = "",
    http: HTTPRequest? = nil
  ) {
    self.sourcePrincipal = sourcePrincipal
    self.destinationPrincipal = destinationPrincipal
    self.destinationService = destinationService
    self.tlsServerName = tlsServerName
    self.http = http
  }

  public struct HTTPRequest: Sendable {
    public var method: String
    /// The request target as Envoy saw it, query included.
    public var path: String
    public var host: String
    /// `http` or `https` as the proxy saw it; empty when unknown.
    public var scheme: String
    /// Lower-case names, as Envoy sends them (pseudo-headers included).
    public var headers: [String: String] {
      didSet { facts = HeaderFacts(headers) }
    }
    public var body: [UInt8]
    /// What the engine reads from `headers`, found once.
    private(set) var facts: HeaderFacts

    public init(
      method: String,
      path: String,
      host: String = "",
      scheme: String = "",
      headers: [String: String] = [:],
      body: [UInt8] = []
    ) {
      self.method = method
      self.path = path
      self.host = host
      self.scheme = scheme
      self.headers = headers
      self.body = body
      self.facts = HeaderFacts(headers)
    }

    /// Whether Envoy cut the body at `max_request_bytes` (`allow_partial_message`). Envoy's own
    /// `x-envoy-auth-partial-body` header is not enough: Envoy 1.40 sends "false" when its buffer
    /// fills to exactly the limit, so a `content-length` larger than what arrived also counts, and
    /// so does a body without `content-length` that fills the limit (a body of exactly that size is
    /// then treated as cut: the fail-closed reading).
    public func bodyIsPartial(maxRequestBytes: Int) -> Bool {
      if facts.partialBody?.lowercased() == "true" { return true }
      if let declared = facts.contentLength, let length = Int(declared.trimmingOptionalWhitespace()), length >= 0 {
        return length > body.count
      }
      return body.count >= maxRequestBytes
    }

    /// `application/json` or any `+json` media type (`HeaderFacts.isJSONMediaType`).
    public var hasJSONContentType: Bool { facts.isJSON }

    static let applicationJSON = Array("application/json".utf8)
    static let plusJSON = Array("+json".utf8)

    /// `lowercase` is lower-case ASCII.
    static func equalsIgnoringASCIICase(_ bytes: UnsafeBufferPointer<UInt8>, _ lowercase: [UInt8]) -> Bool {
      guard bytes.count == lowercase.count else { return false }
      for (byte, expected) in zip(bytes, lowercase) {
        let folded = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
        if folded != expected { return false }
      }
      return true
    }

    /// A `content-encoding` other than identity.
    public var contentEncoding: String? {
      guard let value = facts.contentEncoding?.trimmingOptionalWhitespace().lowercased(),
        !value.isEmpty, value != "identity"
      else { return nil }
      return value
    }
  }
}

extension StringProtocol {
  /// Without leading and trailing spaces and tabs (HTTP optional whitespace). On UTF-8 code
  /// units: both are ASCII, so the trimmed bounds are character boundaries.
  func trimmingOptionalWhitespace() -> String {
    let utf8 = self.utf8
    var start = utf8.startIndex
    while start < utf8.endIndex, utf8[start] == 0x20 || utf8[start] == 0x09 { start = utf8.index(after: start) }
    // One forward pass: the end is just after the last byte that is not optional whitespace.
    var end = start
    var index = start
    while index < utf8.endIndex {
      let byte = utf8[index]
      index = utf8.index(after: index)
      if byte != 0x20 && byte != 0x09 { end = index }
    }
    return String(self[start..<end])
  }
}
