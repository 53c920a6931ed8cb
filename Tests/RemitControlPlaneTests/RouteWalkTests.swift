import Foundation
import Hummingbird
import HummingbirdTesting
import RemitEngine
import Testing

@testable import RemitControlPlane

/// Walks every operation of the OpenAPI document: without a key each `/v1` one is 401, and with
/// another tenant's admin key none shows or changes anything of tenant `acme`, which holds one of
/// every resource type. A route added to the document is walked without editing this test.
@Suite struct RouteWalkTests {
  struct Operation: CustomStringConvertible {
    var method: HTTPRequest.Method
    var path: String
    var description: String { "\(method) \(path)" }
  }

  /// The operations of the served document, read from its text: paths at two spaces, methods at four.
  static var operations: [Operation] {
    var operations: [Operation] = []
    var path: String? = nil
    for line in OpenAPIDocument.yaml.split(separator: "\n") {
      if line.hasPrefix("  /") {
        path = String(line.dropFirst(2).dropLast())
      } else if line.hasPrefix("    "), !line.hasPrefix("     "), let current = path {
        let word = line.trimmingCharacters(in: .whitespaces).dropLast()
        if let method = HTTPRequest.Method(String(word).uppercased()),
          ["GET", "PUT", "POST", "DELETE", "PATCH"].contains(method.rawValue)
        {
          operations.append(Operation(method: method, path: current))
        }
      } else if !line.hasPrefix(" ") {
        path = nil
      }
    }
    return operations
  }

  /// Tenant acme's resources, one of each type, and the names that must never reach another tenant.
  struct Victim {
    var admin: IssuedAPIKey
    var authorizer: IssuedAPIKey
    var markers: [String]

    func uri(_ path: String) -> String {
      path.replacingOccurrences(of: "/v1/agents/{id}", with: "/v1/agents/acme-bot")
        .replacingOccurrences(of: "/v1/missions/{id}", with: "/v1/missions/acme-mission")
        .replacingOccurrences(of: "/v1/api-keys/{id}", with: "/v1/api-keys/\(authorizer.id)")
        .replacingOccurrences(of: "/v1/delegations/chains/{id}", with: "/v1/delegations/chains/acme-chain")
        .replacingOccurrences(of: "{section}", with: "dlp")
        .replacingOccurrences(of: "{instance}", with: "acme-authz")
        .replacingOccurrences(of: "{name}", with: "acme-secret")
    }
  }

  static func makeVictim(_ fixture: ControlPlaneFixture, _ client: any TestClientProtocol) async throws -> Victim {
    let admin = try await fixture.store.createTenant("acme")
    func expectSuccess(_ response: TestResponse, _ what: String) {
      #expect((200..<300).contains(response.status.code), "\(what): \(response.status) \(response.text)")
    }
    let agent = try agentJSON("acme-bot", namespace: "agents", serviceAccount: "acme-bot", mission: "acme-mission")
    expectSuccess(
      try await client.send(.post, "/v1/missions", key: admin.key, json: #"{"id": "acme-mission"}"#), "mission")
    expectSuccess(try await client.send(.post, "/v1/agents", key: admin.key, json: agent), "agent")
    expectSuccess(
      try await client.send(.put, "/v1/secrets/acme-secret", key: admin.key, json: #"{"value": "acme-value-1"}"#),
      "secret")
    let created = try await client.send(.post, "/v1/api-keys", key: admin.key, json: #"{"role": "authorizer"}"#)
    expectSuccess(created, "api key")
    let authorizer = try created.decoded(IssuedAPIKey.self)
    expectSuccess(
      try await client.send(
        .put, "/v1/authorizers/acme-authz", key: authorizer.key,
        json: #"{"policyVersion": "1", "lastSync": null, "remitVersion": "0.1.0"}"#),
      "authorizer")
    var event = auditEvent("acme-decision", offset: 1, agent: "acme-bot")
    event.chainId = "acme-chain"
    expectSuccess(
      try await client.send(
        .post, "/v1/audit/events", key: authorizer.key, json: try auditBatchJSON([event], authorizer: "acme-authz")),
      "audit")
    expectSuccess(
      try await client.send(
        .post, "/v1/delegations/hops", key: authorizer.key,
        json: DelegationLedgerTests.hopJSON("acme-chain", "acme-bot", nil)),
      "hop")
    return Victim(
      admin: admin, authorizer: authorizer,
      markers: [
        "acme-bot", "acme-mission", "acme-secret", "acme-value-1", "acme-authz", "acme-decision", "acme-chain",
        authorizer.id, authorizer.key, admin.key,
      ])
  }

  /// Everything acme's admin can read, to compare before and after the walk.
  static func view(of victim: Victim, _ client: any TestClientProtocol) async throws -> [String] {
    var texts: [String] = []
    for path in [
      "/v1/policy", "/v1/agents", "/v1/missions", "/v1/secrets", "/v1/api-keys", "/v1/authorizers",
      "/v1/audit/events", "/v1/delegations/chains", "/v1/delegations/chains/acme-chain",
    ] {
      let response = try await client.send(.get, path, key: victim.admin.key)
      #expect(response.status == .ok, "\(path): \(response.text)")
      // Sign-in times and last-use stamps may move; the rest must not.
      texts.append(
        response.text.replacingOccurrences(of: #""lastUsed":"[^"]*""#, with: "", options: .regularExpression))
    }
    return texts
  }

  /// A plausible body for each write, so that writes reach the store instead of stopping at validation.
  static func body(for operation: Operation) throws -> String? {
    switch (operation.method, operation.path) {
    case (.post, "/v1/agents"), (.put, "/v1/agents/{id}"):
      return try agentJSON("acme-bot", namespace: "agents", serviceAccount: "acme-bot")
    case (.post, "/v1/missions"), (.put, "/v1/missions/{id}"): return #"{"id": "acme-mission"}"#
    case (.put, "/v1/secrets/{name}"): return #"{"value": "other-tenant-value"}"#
    case (.put, "/v1/authorizers/{instance}"): return #"{"policyVersion": null, "remitVersion": "0.1.0"}"#
    case (.post, "/v1/audit/events"):
      var event = auditEvent("other-decision", offset: 2, agent: "acme-bot")
      event.chainId = "acme-chain"
      return try auditBatchJSON([event], authorizer: "acme-authz")
    case (.post, "/v1/delegations/hops"): return DelegationLedgerTests.hopJSON("acme-chain", "acme-bot", "acme-bot")
    case (.post, "/v1/api-keys"): return #"{"role": "reader"}"#
    case (.put, "/v1/policy"): return #"{"apiVersion": "remit/v1", "kind": "Policy"}"#
    case (.put, "/v1/policy/{section}"): return #"{"detectors": {"email": "log"}}"#
    default: return operation.method == .get || operation.method == .delete ? nil : "{}"
    }
  }

  @Test(arguments: TestBackend.all) func everyRouteNeedsAKeyAndNoneCrossesTenants(_ backend: TestBackend)
    async throws
  {
    let fixture = try await ControlPlaneFixture.make(backend, options: .init(secretsKey: .generate()))
    let operations = Self.operations
    #expect(operations.count >= 25, "the document's operations were not all read: \(operations)")
    try await fixture.withAPI { client in
      let victim = try await Self.makeVictim(fixture, client)
      let before = try await Self.view(of: victim, client)
      let other = fixture.adminKey

      for operation in operations where operation.path.hasPrefix("/v1/") {
        let uri = victim.uri(operation.path)
        let anonymous = try await client.send(operation.method, uri, key: nil, json: try Self.body(for: operation))
        #expect(anonymous.status == .unauthorized, "\(operation) without a key: \(anonymous.status)")
      }
      // Reads first, while the other tenant holds nothing that shares acme's names.
      for operation in operations where operation.method == .get && operation.path.hasPrefix("/v1/") {
        let response = try await client.send(.get, victim.uri(operation.path), key: other)
        #expect(response.status.code < 500, "\(operation): \(response.status)")
        let uri = victim.uri(operation.path)
        for marker in victim.markers where response.text.contains(marker) && !uri.contains(marker) {
          Issue.record("\(operation) with another tenant's key shows acme's \(marker): \(response.text)")
        }
      }
      // Then every write, on acme's names, with the other tenant's key.
      for operation in operations where operation.method != .get && operation.path.hasPrefix("/v1/") {
        let response = try await client.send(
          operation.method, victim.uri(operation.path), key: other, json: try Self.body(for: operation))
        #expect(response.status.code < 500, "\(operation): \(response.status) \(response.text)")
      }
      #expect(try await Self.view(of: victim, client) == before, "acme's data changed")
      // acme's keys still work.
      #expect(try await client.send(.get, "/v1/agents", key: victim.admin.key).status == .ok)
      #expect(try await client.send(.get, "/v1/snapshot", key: victim.authorizer.key).status == .ok)
    }
  }

  /// Which keys besides admin's may call each operation, written out from SPEC and docs (not read
  /// from the router): readers read, except key listings and secrets; authorizers fetch their
  /// snapshot and sealed secrets and report audit events, their own status and delegation hops.
  static let nonAdminAccess: [String: Set<APIKeyRole>] = [
    "GET /v1/agents": [.reader], "POST /v1/agents": [],
    "GET /v1/agents/{id}": [.reader], "PUT /v1/agents/{id}": [], "DELETE /v1/agents/{id}": [],
    "GET /v1/missions": [.reader], "POST /v1/missions": [],
    "GET /v1/missions/{id}": [.reader], "PUT /v1/missions/{id}": [], "DELETE /v1/missions/{id}": [],
    "GET /v1/policy": [.reader], "PUT /v1/policy": [],
    "GET /v1/policy/{section}": [.reader], "PUT /v1/policy/{section}": [],
    "GET /v1/snapshot": [.reader, .authorizer],
    "POST /v1/audit/events": [.authorizer], "GET /v1/audit/events": [.reader],
    "GET /v1/authorizers": [.reader], "PUT /v1/authorizers/{instance}": [.authorizer],
    "GET /v1/authorizers/{instance}/secrets": [.authorizer],
    "POST /v1/delegations/hops": [.authorizer],
    "GET /v1/delegations/chains": [.reader], "GET /v1/delegations/chains/{id}": [.reader],
    "GET /v1/api-keys": [], "POST /v1/api-keys": [], "DELETE /v1/api-keys/{id}": [],
    "GET /v1/secrets": [], "PUT /v1/secrets/{name}": [], "DELETE /v1/secrets/{name}": [],
  ]

  /// A reader key and an authorizer key walk every operation of the document: 403 `forbidden`
  /// wherever the table above does not list their role, and never 401 or 403 where it does.
  /// Then acme's admin walks them all (deletes last), and is refused nowhere.
  @Test(arguments: TestBackend.all) func everyRouteRefusesTheRolesItDoesNotAllow(_ backend: TestBackend)
    async throws
  {
    let fixture = try await ControlPlaneFixture.make(backend, options: .init(secretsKey: .generate()))
    let operations = Self.operations.filter { $0.path.hasPrefix("/v1/") }
    #expect(
      Set(operations.map(\.description)) == Set(Self.nonAdminAccess.keys),
      "the role table and the document's operations differ: add the new operation's rule to the table")
    try await fixture.withAPI { client in
      let victim = try await Self.makeVictim(fixture, client)
      let created = try await client.send(.post, "/v1/api-keys", key: victim.admin.key, json: #"{"role": "reader"}"#)
      #expect(created.status == .created, "\(created.text)")
      let reader = try created.decoded(IssuedAPIKey.self)
      var allowed: [APIKeyRole: Int] = [:]
      var refused: [APIKeyRole: Int] = [:]
      for (role, key) in [(APIKeyRole.reader, reader.key), (.authorizer, victim.authorizer.key)] {
        for operation in operations {
          let response = try await client.send(
            operation.method, victim.uri(operation.path), key: key, json: try Self.body(for: operation))
          if Self.nonAdminAccess[operation.description]?.contains(role) == true {
            allowed[role, default: 0] += 1
            #expect(
              response.status != .forbidden && response.status != .unauthorized && response.status.code < 500,
              "\(role) on \(operation), which it may call: \(response.status) \(response.text)")
          } else {
            refused[role, default: 0] += 1
            #expect(response.status == .forbidden, "\(role) on \(operation): \(response.status) \(response.text)")
            #expect(response.errorBody?.error.code == "forbidden", "\(role) on \(operation): \(response.text)")
          }
        }
      }
      // The table is not empty on either side for either role.
      #expect(allowed[.reader] == 11 && refused[.reader] == operations.count - 11, "\(allowed) \(refused)")
      #expect(allowed[.authorizer] == 5 && refused[.authorizer] == operations.count - 5, "\(allowed) \(refused)")
      for operation in operations.sorted(by: { $0.method != .delete && $1.method == .delete }) {
        let response = try await client.send(
          operation.method, victim.uri(operation.path), key: victim.admin.key, json: try Self.body(for: operation))
        #expect(
          response.status != .forbidden && response.status != .unauthorized && response.status.code < 500,
          "admin on \(operation): \(response.status) \(response.text)")
      }
    }
  }

  /// Every operation that reads a body refuses one larger than its limit (the largest limit is the
  /// whole policy document's, 64 MiB) with 413 before reading on, and the server stays up.
  @Test func everyWriteRefusesABodyOverItsLimit() async throws {
    let fixture = try await ControlPlaneFixture.make(.sqlite, options: .init(secretsKey: .generate()))
    let huge = ByteBuffer(repeating: UInt8(ascii: " "), count: PolicyDocument.maximumDocumentBytes + 1)
    let writes = Self.operations.filter { [.post, .put, .patch].contains($0.method) && $0.path.hasPrefix("/v1/") }
    #expect(writes.count >= 10, "\(writes)")
    try await fixture.withAPI { client in
      let victim = try await Self.makeVictim(fixture, client)
      for operation in writes {
        var headers = HTTPFields()
        headers[.authorization] =
          "Bearer \(operation.path.contains("audit") || operation.path.contains("hops") || operation.path.contains("authorizers/") ? victim.authorizer.key : victim.admin.key)"
        headers[.contentType] = "application/json"
        let response = try await client.executeRequest(
          uri: victim.uri(operation.path), method: operation.method, headers: headers, body: huge)
        #expect(response.status == .contentTooLarge, "\(operation): \(response.status) \(response.text.prefix(200))")
        #expect(response.errorBody?.error.code == "body_too_large", "\(operation)")
      }
      #expect(try await client.send(.get, "/v1/agents", key: victim.admin.key).status == .ok)
    }
  }
}
