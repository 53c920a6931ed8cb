import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import RemitEngine

/// A failed call to the control plane. `isPermanent` means retrying the same request cannot help
/// (the control plane refused its content); anything else is retried.
public struct ControlPlaneClientError: Error, Sendable, CustomStringConvertible {
  public var code: String
  public var message: String
  public var status: Int?

  public var isPermanent: Bool {
    guard let status else { return false }
    // 401/403 may be fixed by an operator (a new key), 429 and 5xx by time.
    return (400..<500).contains(status) && status != 401 && status != 403 && status != 408 && status != 429
  }

  public var description: String { "\(code): \(message)" }
}

/// The answer to a snapshot request.
public enum SnapshotFetch: Sendable {
  /// Nothing changed since the version the authorizer knows.
  case notModified
  /// The tenant's policy document (JSON) and its version.
  case document([UInt8], version: Int64)
}

/// What an authorizer tells the control plane about itself.
public struct AuthorizerReport: Codable, Sendable, Equatable {
  public var policyVersion: String?
  /// RFC 3339.
  public var lastSync: String?
  public var remitVersion: String
  /// The pod's public transport keys, when brokering is on.
  public var keys: AuthorizerPublicKeys?
}

/// What the control plane publishes (the signing JWK, at its `/.well-known/jwks.json`) and seals
/// secrets to (the X25519 key, base64 of its 32 raw bytes).
public struct AuthorizerPublicKeys: Codable, Sendable, Equatable {
  public struct SigningJWK: Codable, Sendable, Equatable {
    public var kty = "EC"
    public var crv = "P-256"
    public var x: String
    public var y: String
    public var kid: String
    public var alg = "ES256"
    public var use = "sig"
  }

  public var signing: SigningJWK
  public var agreement: String

  init(_ key: TransportKey) {
    let point = key.signing.publicKey.x963Representation
    signing = SigningJWK(
      x: TransportKey.base64URL(point[1..<33]), y: TransportKey.base64URL(point[33..<65]), kid: key.keyID)
    agreement = key.agreement.publicKey.rawRepresentation.base64EncodedString()
  }
}

/// The authorizer's side of the control plane API: snapshot long-polls, reports and audit batches.
/// One `HTTPClient`, shut down with the client.
public final class ControlPlaneClient: Sendable {
  public static let remitVersion = "0.1.0"
  /// A snapshot larger than a policy document may be is refused before it is read whole.
  static let maximumResponseBytes = PolicyDocument.maximumDocumentBytes

  let connection: ControlPlaneConnection
  let httpClient: HTTPClient
  /// Delegation hops are on the request path: their own pool, so they never queue behind
  /// long-polls, audit batches or a connection backoff built up while the control plane was away
  /// (a hop that cannot connect fails at once and is denied; the next one connects afresh).
  let ledgerClient: HTTPClient

  public init(connection: ControlPlaneConnection) {
    self.connection = connection
    var configuration = HTTPClient.Configuration()
    configuration.timeout = .init(connect: .seconds(3), read: nil)
    configuration.decompression = .disabled
    configuration.redirectConfiguration = .disallow
    self.httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    var ledger = configuration
    let ledgerTimeout = connection.ledgerTimeout.components
    ledger.timeout = .init(
      connect: .nanoseconds(ledgerTimeout.seconds * 1_000_000_000 + ledgerTimeout.attoseconds / 1_000_000_000),
      read: nil)
    ledger.connectionPool.retryConnectionEstablishment = false
    ledger.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
    ledger.connectionPool.idleTimeout = .seconds(30)
    self.ledgerClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: ledger)
  }

  public func shutdown() async {
    try? await httpClient.shutdown()
    try? await ledgerClient.shutdown()
  }

  /// `GET /v1/snapshot`, long-polling when `knownVersion` is given.
  /// The request's deadline is `timeout` (default: the configured request timeout) plus the wait.
  /// While the control plane is down the HTTP client keeps retrying the connection until then,
  /// so callers that need a quick answer pass a short timeout and no wait.
  public func fetchSnapshot(
    knownVersion: Int64?, waitSeconds: Int, timeout: Duration? = nil
  ) async throws(ControlPlaneClientError) -> SnapshotFetch {
    var path = "/v1/snapshot"
    if let knownVersion { path += "?knownVersion=\(knownVersion)&waitSeconds=\(waitSeconds)" }
    let timeout = (timeout ?? connection.requestTimeout) + .seconds(knownVersion == nil ? 0 : waitSeconds)
    let (status, headers, body) = try await send(.GET, path, body: nil, timeout: timeout)
    switch status {
    case 304:
      return .notModified
    case 200:
      guard let text = headers.first(name: "Remit-Policy-Version"), let version = Int64(text) else {
        throw ControlPlaneClientError(
          code: "snapshot_version_missing", message: "the snapshot response has no Remit-Policy-Version header")
      }
      return .document(body, version: version)
    default:
      throw Self.statusError(status, body: body, what: "snapshot")
    }
  }

  /// `PUT /v1/authorizers/{instance}`: registers on the first call, reports on later ones.
  public func report(_ report: AuthorizerReport) async throws(ControlPlaneClientError) {
    let body: [UInt8]
    do {
      body = Array(try JSONEncoder().encode(report))
    } catch {
      throw ControlPlaneClientError(code: "encode_failed", message: "\(error)")
    }
    let (status, _, response) = try await send(
      .PUT, "/v1/authorizers/\(connection.instanceID)", body: body, timeout: connection.requestTimeout)
    guard (200..<300).contains(status) else { throw Self.statusError(status, body: response, what: "report") }
  }

  /// `POST /v1/audit/events` with events already encoded as a JSON array.
  public func sendAudit(eventsJSONArray: [UInt8], timeout: Duration? = nil) async throws(ControlPlaneClientError) {
    var body: [UInt8] = []
    body.reserveCapacity(eventsJSONArray.count + 160)
    body += Array("{\"authorizer\":".utf8)
    var instance = ""
    JSONText.appendString(connection.instanceID, to: &instance)
    body += Array(instance.utf8)
    body += Array(",\"events\":".utf8)
    body += eventsJSONArray
    body.append(UInt8(ascii: "}"))
    let (status, _, response) = try await send(
      .POST, "/v1/audit/events", body: body, timeout: timeout ?? connection.requestTimeout)
    guard (200..<300).contains(status) else { throw Self.statusError(status, body: response, what: "audit batch") }
  }

  func send(
    _ method: HTTPMethod,
    _ path: String,
    body: [UInt8]?,
    timeout: Duration,
    client: HTTPClient? = nil,
    limit: Int = ControlPlaneClient.maximumResponseBytes
  ) async throws(ControlPlaneClientError) -> (Int, HTTPHeaders, [UInt8]) {
    var request = HTTPClientRequest(url: connection.baseURL + path)
    request.method = method
    request.headers.add(name: "Authorization", value: "Bearer \(connection.apiKey)")
    request.headers.add(name: "User-Agent", value: "remit-authorizer/\(Self.remitVersion)")
    if let body {
      request.headers.add(name: "Content-Type", value: "application/json")
      request.body = .bytes(ByteBuffer(bytes: body))
    }
    do {
      let response = try await (client ?? httpClient).execute(request, timeout: .init(timeout))
      let buffer = try await response.body.collect(upTo: limit)
      return (Int(response.status.code), response.headers, Array(buffer.readableBytesView))
    } catch let error as NIOTooManyBytesError {
      throw ControlPlaneClientError(
        code: "response_too_large", message: "the control plane's answer is larger than \(error.maxBytes ?? 0) bytes")
    } catch {
      throw ControlPlaneClientError(
        code: "control_plane_unreachable",
        message: "\(method.rawValue) \(connection.baseURL)\(path.split(separator: "?").first ?? ""): \(error)")
    }
  }

  static func statusError(_ status: Int, body: [UInt8], what: String) -> ControlPlaneClientError {
    // The control plane's error code, when the body has one; never the whole body.
    struct Envelope: Decodable {
      struct Inner: Decodable { var code: String?; var message: String? }
      var error: Inner?
    }
    let envelope = try? JSONDecoder().decode(Envelope.self, from: Data(body.prefix(4096)))
    let detail = envelope?.error.map { "\($0.code ?? "error"): \($0.message ?? "")" } ?? "HTTP \(status)"
    return ControlPlaneClientError(
      code: "control_plane_status", message: "\(what) refused with \(status) (\(detail))", status: status)
  }
}

extension TimeAmount {
  init(_ duration: Duration) {
    let (seconds, attoseconds) = duration.components
    self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
  }
}
