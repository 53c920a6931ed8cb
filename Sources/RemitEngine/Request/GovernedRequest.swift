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

  /// Copy-on-write: the fields live in one storage object, so passing the request from step to
  /// step of a decision retains one reference instead of a dozen strings and collections.
  public struct HTTPRequest: Sendable {
    public var method: String {
      _read { yield storage.method }
      set { uniqueStorage().method = newValue }
    }
    /// The request target as Envoy saw it, query included.
    public var path: String {
      _read { yield storage.path }
      set { uniqueStorage().path = newValue }
    }
    public var host: String {
      _read { yield storage.host }
      set { uniqueStorage().host = newValue }
    }
    /// `http` or `https` as the proxy saw it; empty when unknown.
    public var scheme: String {
      _read { yield storage.scheme }
      set { uniqueStorage().scheme = newValue }
    }
    /// Lower-case names, as Envoy sends them (pseudo-headers included).
    public var headers: [String: String] {
      _read { yield storage.headers }
      set {
        let storage = uniqueStorage()
        storage.headers = newValue
        storage.facts = HeaderFacts(newValue)
      }
    }
    public var body: [UInt8] {
      _read { yield storage.body }
      set { uniqueStorage().body = newValue }
    }
    /// What the engine reads from `headers`, found once.
    var facts: HeaderFacts {
      _read { yield storage.facts }
    }

    private var storage: Storage

    /// Mutable only while uniquely referenced (`uniqueStorage`), as the standard library's
    /// collections are; hence `@unchecked Sendable`.
    private final class Storage: @unchecked Sendable {
      var method: String
      var path: String
      var host: String
      var scheme: String
      var headers: [String: String]
      var body: [UInt8]
      var facts: HeaderFacts

      init(
        method: String, path: String, host: String, scheme: String, headers: [String: String], body: [UInt8],
        facts: HeaderFacts
      ) {
        self.method = method
        self.path = path
        self.host = host
        self.scheme = scheme
        self.headers = headers
        self.body = body
        self.facts = facts
      }

      func copy() -> Storage {
        Storage(method: method, path: path, host: host, scheme: scheme, headers: headers, body: body, facts: facts)
      }
    }

    private mutating func uniqueStorage() -> Storage {
      if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
      return storage
    }

    public init(
      method: String,
      path: String,
      host: String = "",
      scheme: String = "",
      headers: [String: String] = [:],
      body: [UInt8] = []
    ) {
      storage = Storage(
        method: method, path: path, host: host, scheme: scheme, headers: headers, body: body,
        facts: HeaderFacts(headers))
    }

    /// Whether Envoy cut the body at `max_request_bytes` (`allow_partial_message`). Envoy's own
    /// `x-envoy-auth-partial-body` header is not enough: Envoy 1.40 sends "false" when its buffer
    /// fills to exactly the limit, so a `content-length` larger than what arrived also counts, and
    /// so does a body without `content-length` that fills the limit (a body of exactly that size is
    /// then treated as cut: the fail-closed reading).
    public func bodyIsPartial(maxRequestBytes: Int) -> Bool {
      // On the bytes: no string is made for either header (no Unicode letter lowercases to ASCII
      // `true`, so an ASCII comparison is `lowercased() == "true"`).
      if var flag = facts.partialBody, flag.withUTF8({ Self.equalsIgnoringASCIICase($0, Self.trueBytes) }) {
        return true
      }
      if var declared = facts.contentLength, let length = declared.withUTF8({ Self.decimal($0) }), length >= 0 {
        return length > body.count
      }
      return body.count >= maxRequestBytes
    }

    static let trueBytes = Array("true".utf8)

    /// `Int(text.trimmingOptionalWhitespace())` on UTF-8 bytes: spaces and tabs around an optional
    /// sign and at least one digit; nil on anything else or on overflow.
    static func decimal(_ text: UnsafeBufferPointer<UInt8>) -> Int? {
      var start = text.startIndex
      var end = text.endIndex
      while start < end, text[start] == 0x20 || text[start] == 0x09 { start += 1 }
      while end > start, text[end - 1] == 0x20 || text[end - 1] == 0x09 { end -= 1 }
      guard start < end else { return nil }
      let negative = text[start] == UInt8(ascii: "-")
      if negative || text[start] == UInt8(ascii: "+") { start += 1 }
      guard start < end else { return nil }
      var value = 0
      for index in start..<end {
        let digit = text[index] &- UInt8(ascii: "0")
        guard digit < 10 else { return nil }
        let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
        let (sum, overflowSum) =
          negative ? shifted.subtractingReportingOverflow(Int(digit)) : shifted.addingReportingOverflow(Int(digit))
        guard !overflow, !overflowSum else { return nil }
        value = sum
      }
      return value
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
