import Foundation
import Hummingbird
import HummingbirdTesting
import RemitEngine
import Testing

@testable import RemitControlPlane

@Suite struct ConflictTests {
  @Test(arguments: TestBackend.all) func duplicateAgentIdIs409(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    try await fixture.withAPI { client in
      let first = try await client.send(.post, "/v1/agents", key: fixture.adminKey, json: #"{"id": "bot"}"#)
      #expect(first.status == .created)
      let second = try await client.send(
        .post, "/v1/agents", key: fixture.adminKey, json: #"{"id": "bot", "description": "again"}"#)
      #expect(second.status == .conflict)
      #expect(second.errorBody?.error.code == "agent_exists")
      let stored = try await client.send(.get, "/v1/agents/bot", key: fixture.adminKey)
      #expect(try stored.decoded(PolicyDocument.Agent.self).description == nil)
    }
  }

  @Test(arguments: TestBackend.all) func identityBoundToAnotherAgentIs409OnCreateAndOnUpdate(_ backend: TestBackend)
    async throws
  {
    let fixture = try await ControlPlaneFixture.make(backend)
    try await fixture.withAPI { client in
      let bound = try agentJSON("checkout-bot", namespace: "agents", serviceAccount: "checkout-bot")
      #expect(try await client.send(.post, "/v1/agents", key: fixture.adminKey, json: bound).status == .created)

      let thief = try agentJSON("thief", namespace: "agents", serviceAccount: "checkout-bot")
      let conflict = try await client.send(.post, "/v1/agents", key: fixture.adminKey, json: thief)
      #expect(conflict.status == .conflict)
      #expect(conflict.errorBody?.error.code == "mesh_identity_conflict")
      #expect(conflict.errorBody?.error.field == "meshIdentity")
      #expect(conflict.errorBody?.error.message.contains("checkout-bot") == true)

      #expect(
        try await client.send(.post, "/v1/agents", key: fixture.adminKey, json: #"{"id": "other"}"#).status == .created)
      let update = try await client.send(
        .put, "/v1/agents/other", key: fixture.adminKey, json: thief.replacingOccurrences(of: "thief", with: "other"))
      #expect(update.status == .conflict)
      #expect(update.errorBody?.error.code == "mesh_identity_conflict")

      // Re-saving an agent with its own identity is not a conflict.
      let same = try await client.send(.put, "/v1/agents/checkout-bot", key: fixture.adminKey, json: bound)
      #expect(same.status == .ok)
      // A different service account in the same namespace is another identity.
      let sibling = try agentJSON("sibling", namespace: "agents", serviceAccount: "checkout-bot-2")
      #expect(try await client.send(.post, "/v1/agents", key: fixture.adminKey, json: sibling).status == .created)
    }
  }

  @Test(arguments: TestBackend.all) func duplicateMissionIs409(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    try await fixture.withAPI { client in
      let mission = #"{"id": "checkout", "allow": [{"to": "tools/inventory"}]}"#
      #expect(try await client.send(.post, "/v1/missions", key: fixture.adminKey, json: mission).status == .created)
      let again = try await client.send(.post, "/v1/missions", key: fixture.adminKey, json: mission)
      #expect(again.status == .conflict)
      #expect(again.errorBody?.error.code == "mission_exists")
    }
  }
}

@Suite struct TenancyTests {
  @Test(arguments: TestBackend.all) func aKeyOfOneTenantNeverSeesOrChangesAnotherTenantsData(_ backend: TestBackend)
    async throws
  {
    let fixture = try await ControlPlaneFixture.make(backend)
    let acme = try await fixture.store.createTenant("acme")
    try await fixture.withAPI { client in
      let agent = try agentJSON("bot", namespace: "agents", serviceAccount: "bot")
      #expect(try await client.send(.post, "/v1/agents", key: acme.key, json: agent).status == .created)
      let mission = #"{"id": "secret-mission"}"#
      #expect(try await client.send(.post, "/v1/missions", key: acme.key, json: mission).status == .created)

      let key = fixture.adminKey
      #expect(try await client.send(.get, "/v1/agents/bot", key: key).status == .notFound)
      #expect(try await client.send(.put, "/v1/agents/bot", key: key, json: "{}").status == .notFound)
      #expect(try await client.send(.delete, "/v1/agents/bot", key: key).status == .notFound)
      #expect(try await client.send(.get, "/v1/missions/secret-mission", key: key).status == .notFound)
      #expect(try await client.send(.delete, "/v1/missions/secret-mission", key: key).status == .notFound)
      #expect(try await client.send(.get, "/v1/agents", key: key).text == "[]")
      #expect(try await client.send(.get, "/v1/missions", key: key).text == "[]")

      // The same identity may be bound once in each tenant.
      #expect(try await client.send(.post, "/v1/agents", key: key, json: agent).status == .created)
      let snapshot = try await client.send(.get, "/v1/snapshot", key: key)
      let document = try PolicyDocument.decode(Array(snapshot.body.readableBytesView), format: .json)
      #expect(document.metadata?.name == "default")
      #expect(document.missions == [])
      #expect(document.agents?.map(\.id) == ["bot"])

      // acme's own data is untouched by default's writes.
      let acmeSnapshot = try await client.send(.get, "/v1/snapshot", key: acme.key)
      let acmeDocument = try PolicyDocument.decode(Array(acmeSnapshot.body.readableBytesView), format: .json)
      #expect(acmeDocument.metadata?.name == "acme")
      #expect(acmeDocument.missions?.map(\.id) == ["secret-mission"])
      #expect(acmeDocument.metadata?.version?.value == "3")
    }
  }
}

@Suite struct RoleTests {
  @Test(arguments: TestBackend.all) func rolesLimitWhatAKeyMayDo(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    let reader = try await fixture.store.issueKey(tenant: "default", role: .reader)
    let authorizer = try await fixture.store.issueKey(tenant: "default", role: .authorizer)
    try await fixture.withAPI { client in
      let agent = #"{"id": "bot"}"#
      #expect(try await client.send(.post, "/v1/agents", key: fixture.adminKey, json: agent).status == .created)

      for path in ["/v1/agents", "/v1/agents/bot", "/v1/missions", "/v1/policy/settings", "/v1/snapshot"] {
        #expect(try await client.send(.get, path, key: reader.key).status == .ok, "reader GET \(path)")
      }
      #expect(try await client.send(.post, "/v1/agents", key: reader.key, json: #"{"id": "x"}"#).status == .forbidden)
      #expect(try await client.send(.put, "/v1/agents/bot", key: reader.key, json: "{}").status == .forbidden)
      #expect(try await client.send(.delete, "/v1/agents/bot", key: reader.key).status == .forbidden)
      #expect(try await client.send(.put, "/v1/policy/dlp", key: reader.key, json: "{}").status == .forbidden)
      #expect(
        try await client.send(.post, "/v1/api-keys", key: reader.key, json: #"{"role": "admin"}"#).status == .forbidden)

      #expect(try await client.send(.get, "/v1/snapshot", key: authorizer.key).status == .ok)
      for path in ["/v1/agents", "/v1/agents/bot", "/v1/missions", "/v1/policy/settings", "/v1/api-keys"] {
        let response = try await client.send(.get, path, key: authorizer.key)
        #expect(response.status == .forbidden, "authorizer GET \(path)")
        #expect(response.errorBody?.error.code == "forbidden")
      }
      #expect(
        try await client.send(.post, "/v1/missions", key: authorizer.key, json: #"{"id": "m"}"#).status == .forbidden)
    }
  }

  @Test(arguments: TestBackend.all) func missingOrWrongKeysAre401(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    try await fixture.withAPI { client in
      let none = try await client.send(.get, "/v1/agents", key: nil)
      #expect(none.status == .unauthorized)
      #expect(none.errorBody?.error.code == "unauthenticated")
      #expect(none.headers[.wwwAuthenticate] == "Bearer")
      #expect(try await client.send(.get, "/v1/agents", key: APIKey.generate()).status == .unauthorized)
      #expect(try await client.send(.get, "/v1/snapshot", key: "not-a-remit-key").status == .unauthorized)
      var headers = HTTPFields()
      headers[.authorization] = "Basic \(fixture.adminKey)"
      let basic = try await client.executeRequest(uri: "/v1/agents", method: .get, headers: headers, body: nil)
      #expect(basic.status == .unauthorized)
    }
  }

  @Test(arguments: TestBackend.all) func adminIssuesKeysThatWorkOnceShownAndAreListedWithoutTheirValue(
    _ backend: TestBackend
  ) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    try await fixture.withAPI { client in
      let created = try await client.send(.post, "/v1/api-keys", key: fixture.adminKey, json: #"{"role": "reader"}"#)
      #expect(created.status == .created)
      let issued = try created.decoded(IssuedAPIKey.self)
      #expect(issued.role == .reader)
      #expect(try await client.send(.get, "/v1/agents", key: issued.key).status == .ok)
      let list = try await client.send(.get, "/v1/api-keys", key: fixture.adminKey)
      #expect(list.text.contains(issued.id))
      #expect(!list.text.contains(issued.key))
      let bad = try await client.send(.post, "/v1/api-keys", key: fixture.adminKey, json: #"{"role": "root"}"#)
      #expect(bad.status == .unprocessableContent)
      #expect(bad.errorBody?.error.field == "role")
    }
  }
}

@Suite struct ConcurrentWriteTests {
  @Test(arguments: TestBackend.all)
  func concurrentWritesGetDistinctVersionsAndOneIdentityBindingWins(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    let key = fixture.adminKey
    try await fixture.withAPI { client in
      let statuses = try await withThrowingTaskGroup(of: (HTTPResponse.Status, String?).self) { group in
        for index in 0..<8 {
          group.addTask {
            let body = try agentJSON("racer-\(index)", namespace: "agents", serviceAccount: "shared")
            let response = try await client.send(.post, "/v1/agents", key: key, json: body)
            return (response.status, response.policyVersion)
          }
        }
        return try await group.reduce(into: []) { $0.append($1) }
      }
      #expect(statuses.filter { $0.0 == .created }.count == 1, "\(statuses.map(\.0.code))")
      #expect(statuses.filter { $0.0 == .conflict }.count == 7, "\(statuses.map(\.0.code))")

      let versions = try await withThrowingTaskGroup(of: String?.self) { group in
        for index in 0..<8 {
          group.addTask {
            let response = try await client.send(.post, "/v1/agents", key: key, json: #"{"id": "solo-\#(index)"}"#)
            return response.status == .created ? response.policyVersion : nil
          }
        }
        return try await group.reduce(into: [String?]()) { $0.append($1) }
      }
      #expect(Set(versions.compactMap { $0 }).count == 8)
      // 1 at creation, 1 for the winning binding, 8 more.
      #expect(try await fixture.store.policyVersion(tenant: "default") == 10)
    }
  }
}
