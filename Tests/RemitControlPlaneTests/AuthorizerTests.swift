import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import RemitControlPlane

@Suite struct AuthorizerTests {
  @Test(arguments: TestBackend.all) func reportsRegisterThenTrackVersionAndLiveness(_ backend: TestBackend) async throws
  {
    let clock = TestClock()
    let fixture = try await ControlPlaneFixture.make(backend, options: .init(now: { clock.now() }))
    let authorizer = try await fixture.store.issueKey(tenant: "default", role: .authorizer)
    let reader = try await fixture.store.issueKey(tenant: "default", role: .reader)
    try await fixture.withAPI { client in
      func list() async throws -> [AuthorizerRecord] {
        let response = try await client.send(.get, "/v1/authorizers", key: reader.key)
        #expect(response.status == .ok)
        return try response.decoded([AuthorizerRecord].self)
      }
      #expect(try await list() == [])

      let registered = clock.now()
      let first = try await client.send(
        .put, "/v1/authorizers/authz-0.pod_A", key: authorizer.key,
        json: #"{"policyVersion": "1", "lastSync": "2026-11-18T11:06:00Z", "remitVersion": "0.1.0"}"#)
      #expect(first.status == .ok, "\(first.text)")
      let record = try first.decoded(AuthorizerRecord.self)
      #expect(record.id == "authz-0.pod_A")
      #expect(record.status == .healthy)
      #expect(record.registered == registered && record.lastSeen == registered)
      #expect(record.lastSync == RFC3339.date("2026-11-18T11:06:00Z"))
      #expect(first.text.contains(#""lastSync":"2026-11-18T11:06:00.000Z""#))

      // A policy change leaves the instance behind until it reports the new version.
      #expect(
        try await client.send(.post, "/v1/agents", key: fixture.adminKey, json: #"{"id": "bot"}"#).status == .created)
      #expect(try await list().map(\.status) == [.behind])

      clock.advance(seconds: 44)
      #expect(try await list().map(\.status) == [.behind])
      clock.advance(seconds: 1)
      #expect(try await list().map(\.status) == [.stale])

      let report = try await client.send(
        .put, "/v1/authorizers/authz-0.pod_A", key: authorizer.key,
        json: #"{"policyVersion": "2", "lastSync": null, "remitVersion": "0.1.1"}"#)
      let updated = try report.decoded(AuthorizerRecord.self)
      #expect(updated.status == .healthy)
      #expect(updated.registered == registered)
      #expect(updated.lastSeen == clock.now())
      #expect(updated.lastSync == nil && updated.remitVersion == "0.1.1")
      #expect(report.text.contains(#""lastSync":null"#))

      // Before its first snapshot an instance reports no version: behind, not healthy.
      _ = try await client.send(
        .put, "/v1/authorizers/authz-1", key: fixture.adminKey,
        json: #"{"policyVersion": null, "remitVersion": "0.1.1"}"#)
      #expect(try await list().map(\.id) == ["authz-0.pod_A", "authz-1"])
      #expect(try await list().map(\.status) == [.healthy, .behind])
    }
  }

  @Test(arguments: TestBackend.all) func instancesGoneForAWeekAreForgotten(_ backend: TestBackend) async throws {
    let clock = TestClock()
    let fixture = try await ControlPlaneFixture.make(backend, options: .init(now: { clock.now() }))
    let store = fixture.store
    let report = AuthorizerReport(policyVersion: "1", lastSync: nil, remitVersion: "0.1.0")
    _ = try await store.reportAuthorizer(tenant: "default", id: "old-pod", report: report)
    clock.advance(seconds: 7 * 24 * 3600 + 1)
    _ = try await store.reportAuthorizer(tenant: "default", id: "new-pod", report: report)
    #expect(try await store.authorizers(tenant: "default").map(\.id) == ["new-pod"])
    try await store.close()
  }

  @Test(arguments: TestBackend.all) func invalidReportsAre422NamingTheField(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    try await fixture.withAPI { client in
      let good = #"{"policyVersion": "1", "lastSync": null, "remitVersion": "0.1.0"}"#
      for (path, body, field) in [
        ("/v1/authorizers/bad%20id", good, "instance"),
        ("/v1/authorizers/" + String(repeating: "a", count: 129), good, "instance"),
        ("/v1/authorizers/ok", #"{"policyVersion": "1"}"#, "remitVersion"),
        ("/v1/authorizers/ok", #"{"remitVersion": ""}"#, "remitVersion"),
        ("/v1/authorizers/ok", #"{"remitVersion": "1", "lastSync": "tuesday"}"#, "lastSync"),
        ("/v1/authorizers/ok", #"{"remitVersion": "1", "policyVersion": 7}"#, "policyVersion"),
      ] {
        let response = try await client.send(.put, path, key: fixture.adminKey, json: body)
        #expect(response.status == .unprocessableContent, "\(path) \(body): \(response.text)")
        #expect(response.errorBody?.error.field == field, "\(path) \(body)")
      }
      #expect(try await fixture.store.authorizers(tenant: "default").isEmpty)
    }
  }

  @Test(arguments: TestBackend.all) func rolesAndTenantsScopeAuthorizers(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    let reader = try await fixture.store.issueKey(tenant: "default", role: .reader)
    let authorizer = try await fixture.store.issueKey(tenant: "default", role: .authorizer)
    let acme = try await fixture.store.createTenant("acme")
    try await fixture.withAPI { client in
      let body = #"{"policyVersion": "1", "remitVersion": "0.1.0"}"#
      #expect(try await client.send(.put, "/v1/authorizers/a1", key: reader.key, json: body).status == .forbidden)
      #expect(try await client.send(.put, "/v1/authorizers/a1", key: nil, json: body).status == .unauthorized)
      #expect(try await client.send(.get, "/v1/authorizers", key: authorizer.key).status == .forbidden)
      #expect(try await client.send(.get, "/v1/agents", key: authorizer.key).status == .forbidden)
      #expect(try await client.send(.put, "/v1/authorizers/a1", key: authorizer.key, json: body).status == .ok)
      #expect(try await client.send(.put, "/v1/authorizers/acme-1", key: acme.key, json: body).status == .ok)
      let mine = try await client.send(.get, "/v1/authorizers", key: reader.key).decoded([AuthorizerRecord].self)
      #expect(mine.map(\.id) == ["a1"])
      let theirs = try await client.send(.get, "/v1/authorizers", key: acme.key).decoded([AuthorizerRecord].self)
      #expect(theirs.map(\.id) == ["acme-1"])
    }
  }
}
