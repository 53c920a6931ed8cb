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
    public var headers: [String: String]
    public var body: [UInt8]

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
    }

    /// Whether Envoy cut the body at `max_request_bytes` (`allow_partial_message`). Envoy's own
    /// `x-envoy-auth-partial-body` header is not enough: Envoy 1.40 sends "false" when its buffer
    /// fills to exactly the limit, so a `content-length` larger than what arrived also counts, and
    /// so does a body without `content-length` that fills the limit (a body of exactly that size is
    /// then treated as cut: the fail-closed reading).
    public func bodyIsPartial(maxRequestBytes: Int) -> Bool {
      if headers["x-envoy-auth-partial-body"]?.lowercased() == "true" { return true }
      if let declared = headers["content-length"], let length = Int(declared.trimmingOptionalWhitespace()),
        length >= 0
      {
        return length > body.count
      }
      return body.count >= maxRequestBytes
    }

    /// `application/json` or any `+json` media type.
    public var hasJSONContentType: Bool {
      guard let value = headers["content-type"] else { return false }
      let mediaType = value.split(separator: ";", maxSplits: 1).first.map {
        $0.trimmingOptionalWhitespace().lowercased()
      }
      guard let mediaType else { return false }
      return mediaType == "application/json" || mediaType.hasSuffix("+json")
    }

    /// A `content-encoding` other than identity.
    public var contentEncoding: String? {
      guard let value = headers["content-encoding"]?.trimmingOptionalWhitespace().lowercased(),
        !value.isEmpty, value != "identity"
      else { return nil }
      return value
    }
  }
}

extension StringProtocol {
  /// Without leading and trailing spaces and tabs (HTTP optional whitespace).
  func trimmingOptionalWhitespace() -> String {
    let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
    return String(self.drop(while: isSpace).reversed().drop(while: isSpace).reversed())
  }
}
