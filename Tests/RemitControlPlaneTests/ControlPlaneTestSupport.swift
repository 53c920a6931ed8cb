import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import RemitEngine
import SQLKit
import Synchronization
import Testing

@testable import RemitControlPlane

/// An in-memory store with tenant `default` bootstrapped, and the API in front of it.
struct ControlPlaneFixture {
  let store: ControlPlaneStore
  let adminKey: String

  static func make(
    _ backend: TestBackend = .sqlite, options: ControlPlaneStore.Options = .init()
  ) async throws -> ControlPlaneFixture {
    let store = try await ControlPlane.openStore(
      try await backend.freshLocation(), logger: quietLogger, options: options)
    let issued = try #require(try await ControlPlane.bootstrap(store, adminKey: nil))
    return ControlPlaneFixture(store: store, adminKey: issued.key)
  }

  static let quietLogger: Logger = {
    var logger = Logger(label: "remit.control-plane.tests")
    logger.logLevel = .critical
    return logger
  }()

  /// Runs `body` against the router in process, then closes the store.
  func withAPI(
    _ setup: TestingSetup = .router,
    _ body: @Sendable (any TestClientProtocol) async throws -> Void
  ) async throws {
    let application = ControlPlane.application(
      store: store, host: "127.0.0.1", port: 0, logger: Self.quietLogger)
    do {
      try await application.test(setup) { client in try await body(client) }
    } catch {
      try? await store.close()
      throw error
    }
    try await store.close()
  }
}

extension TestClientProtocol {
  func send(
    _ method: HTTPRequest.Method,
    _ uri: String,
    key: String?,
    json: String? = nil
  ) async throws -> TestResponse {
    var headers = HTTPFields()
    if let key { headers[.authorization] = "Bearer \(key)" }
    if json != nil { headers[.contentType] = "application/json" }
    return try await executeRequest(
      uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
  }
}

struct ErrorBody: Decodable {
  struct Detail: Decodable {
    var code: String
    var message: String
    var field: String?
  }
  struct Problem: Decodable {
    var field: String
    var message: String
  }
  var error: Detail
  var errors: [Problem]?
}

extension TestResponse {
  var text: String { String(decoding: body.readableBytesView, as: UTF8.self) }

  func decoded<T: Decodable>(_ type: T.Type) throws -> T {
    try JSONDecoder().decode(type, from: Data(text.utf8))
  }

  var errorBody: ErrorBody? { try? decoded(ErrorBody.self) }

  var policyVersion: String? { headers[ControlPlaneAPI.policyVersionHeader] }
}

/// JSON for an agent body, from the model (nil fields omitted).
func agentJSON(
  _ id: String, namespace: String? = nil, serviceAccount: String? = nil, mission: String? = nil
) throws -> String {
  let identity =
    namespace == nil && serviceAccount == nil
    ? nil : PolicyDocument.MeshIdentity(namespace: namespace, serviceAccount: serviceAccount)
  let agent = PolicyDocument.Agent(id: id, meshIdentity: identity, mission: mission)
  return String(decoding: try JSONEncoder().encode(agent), as: UTF8.self)
}

/// The engines the store suite runs on: SQLite always, PostgreSQL when REMIT_TEST_POSTGRES_URL
/// names a server (scripts/test-control-plane-postgres.sh starts a private one on loopback).
enum TestBackend: String, Sendable, CustomTestStringConvertible {
  case sqlite
  case postgres

  static let postgresURL: String? = ProcessInfo.processInfo.environment["REMIT_TEST_POSTGRES_URL"].flatMap {
    $0.isEmpty ? nil : $0
  }

  static var all: [TestBackend] { postgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }

  var testDescription: String { rawValue }

  /// An empty store: SQLite in memory, or a new PostgreSQL database on the test server.
  func freshLocation() async throws -> DatabaseLocation {
    switch self {
    case .sqlite:
      return .sqliteMemory
    case .postgres:
      let base = try #require(Self.postgresURL)
      let name = "remit_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
      let admin = try PostgresControlPlaneDatabase(url: base, logger: ControlPlaneFixture.quietLogger)
      do {
        try await admin.withoutTransaction { db in try await db.raw("CREATE DATABASE \(unsafeRaw: name)").run() }
      } catch {
        try? await admin.close()
        throw error
      }
      try await admin.close()
      var components = try #require(URLComponents(string: base))
      components.path = "/" + name
      return .postgres(url: try #require(components.string))
    }
  }
}

/// A clock tests move by hand, so time-based states (a stale authorizer) need no sleeping.
final class TestClock: Sendable {
  private let current: Mutex<Date>

  init(_ start: Date = Date(timeIntervalSince1970: 1_795_000_000)) { current = Mutex(start) }

  func now() -> Date { current.withLock { $0 } }

  func advance(seconds: TimeInterval) { current.withLock { $0 += seconds } }
}

/// An audit event for tests: `offset` seconds after a fixed time.
func auditEvent(
  _ id: String, offset: Int, verdict: String = "allow", agent: String? = "checkout-bot", reason: String? = nil,
  kind: String? = "east_west"
) -> AuditEvent {
  AuditEvent(
    decisionId: id, time: Date(timeIntervalSince1970: 1_795_000_000 + TimeInterval(offset) + 0.123),
    verdict: verdict, reason: reason, mode: "enforce", agent: agent,
    sourcePrincipal: "spiffe://cluster.local/ns/agents/sa/checkout-bot", destination: "tools/inventory", kind: kind,
    method: "POST", path: "/mcp", tool: "get_stock", policyVersion: "1", findings: ["credit_card@body"],
    aibom: .init(publisher: "acme", version: "1.2.0", risk: "low"), latencyUs: 42)
}

/// The body of `POST /v1/audit/events`.
func auditBatchJSON(_ events: [AuditEvent], authorizer: String = "authz-1") throws -> String {
  struct Batch: Encodable {
    var authorizer: String
    var events: [AuditEvent]
  }
  return String(decoding: try JSONEncoder().encode(Batch(authorizer: authorizer, events: events)), as: UTF8.self)
}
