import Foundation
import Hummingbird
import HummingbirdTesting
import RemitEngine
import Testing

@testable import RemitControlPlane

@Suite struct PolicyDocumentTests {
  static let document = #"""
    {"apiVersion": "remit/v1", "kind": "Policy", "metadata": {"name": "ignored", "version": "99"},
     "settings": {"trustDomains": ["cluster.local"]},
     "agents": [{"id": "checkout-bot", "mission": "checkout",
                 "meshIdentity": {"namespace": "agents", "serviceAccount": "checkout-bot"}},
                {"id": "planner"}],
     "missions": [{"id": "checkout", "allow": [{"to": "tools/inventory", "mcp": {"tools": ["get_stock"]}}]}],
     "dlp": {"detectors": {"credit_card": "block"}}}
    """#

  static let yaml = """
    apiVersion: remit/v1
    kind: Policy
    agents:
      - id: yaml-bot
        meshIdentity: {namespace: agents, serviceAccount: yaml-bot}
    threatIntel:
      injection: log
    """

  func put(
    _ client: some TestClientProtocol, key: String, _ body: String, query: String = "",
    contentType: String = "application/json"
  ) async throws -> TestResponse {
    var headers = HTTPFields()
    headers[.authorization] = "Bearer \(key)"
    headers[.contentType] = contentType
    return try await client.executeRequest(
      uri: "/v1/policy\(query)", method: .put, headers: headers, body: ByteBuffer(string: body))
  }

  struct VersionBody: Decodable {
    var version: Int64
  }

  @Test(arguments: TestBackend.all) func putReplacesEverythingWithOneVersionBump(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    let key = fixture.adminKey
    try await fixture.withAPI { client in
      #expect(try await client.send(.post, "/v1/agents", key: key, json: #"{"id": "old-bot"}"#).status == .created)
      let response = try await put(client, key: key, Self.document)
      #expect(response.status == .ok, "\(response.text)")
      #expect(try response.decoded(VersionBody.self).version == 3)
      #expect(response.policyVersion == "3")

      let read = try await client.send(.get, "/v1/policy", key: key)
      #expect(read.status == .ok)
      #expect(read.policyVersion == "3")
      let document = try PolicyDocument.decode(Array(read.body.readableBytesView), format: .json)
      #expect(document.metadata?.version?.value == "3")
      #expect(document.metadata?.name == "default")
      #expect(document.agents?.map(\.id) == ["checkout-bot", "planner"])
      #expect(document.missions?.map(\.id) == ["checkout"])
      #expect(document.settings?.trustDomains == ["cluster.local"])
      #expect(document.dlp?.detectors?["credit_card"] != nil)
      // The same document as the snapshot.
      let snapshot = try await client.send(.get, "/v1/snapshot", key: key)
      #expect(snapshot.text == read.text)

      // YAML replaces it all again: sections it omits are gone.
      let yaml = try await put(client, key: key, Self.yaml, contentType: "application/yaml")
      #expect(yaml.status == .ok, "\(yaml.text)")
      #expect(try yaml.decoded(VersionBody.self).version == 4)
      let after = try await fixture.store.snapshot(tenant: "default").document
      #expect(after.agents?.map(\.id) == ["yaml-bot"])
      #expect(after.missions == [])
      #expect(after.dlp == nil && after.settings == nil)
      #expect(after.threatIntel?.injection != nil)
    }
  }

  @Test(arguments: TestBackend.all) func anInvalidDocumentChangesNothing(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    let key = fixture.adminKey
    try await fixture.withAPI { client in
      #expect(try await put(client, key: key, Self.document).status == .ok)
      let before = try await client.send(.get, "/v1/policy", key: key).text

      let badIdentity = Self.document.replacingOccurrences(
        of: #""namespace": "agents""#, with: #""namespace": "Agents!""#)
      let identity = try await put(client, key: key, badIdentity)
      #expect(identity.status == .unprocessableContent)
      #expect(identity.errorBody?.errors?.contains { $0.field == "agents[0].meshIdentity.namespace" } == true)

      let unknownMission = Self.document.replacingOccurrences(
        of: #""mission": "checkout""#, with: #""mission": "nope""#)
      let mission = try await put(client, key: key, unknownMission)
      #expect(mission.status == .unprocessableContent)
      #expect(mission.errorBody?.error.field == "agents[0].mission")

      let unknownField = try await put(client, key: key, #"{"apiVersion": "remit/v1", "kind": "Policy", "colour": 1}"#)
      #expect(unknownField.status == .unprocessableContent)
      #expect(unknownField.errorBody?.error.field == "colour")

      let duplicate = try await put(
        client, key: key,
        #"{"apiVersion": "remit/v1", "kind": "Policy", "agents": [{"id": "a", "meshIdentity": {"namespace": "n", "serviceAccount": "s"}}, {"id": "b", "meshIdentity": {"namespace": "n", "serviceAccount": "s"}}]}"#
      )
      #expect(duplicate.status == .unprocessableContent)
      #expect(duplicate.errorBody?.errors?.contains { $0.field.hasPrefix("agents[1]") } == true)

      let notJSON = try await put(client, key: key, "{")
      #expect(notJSON.status == .badRequest)
      #expect(notJSON.errorBody?.error.code == "invalid_json")

      let dryRunBad = try await put(client, key: key, badIdentity, query: "?dryRun=true")
      #expect(dryRunBad.status == .unprocessableContent)
      let badFlag = try await put(client, key: key, Self.document, query: "?dryRun=maybe")
      #expect(badFlag.errorBody?.error.field == "dryRun")

      #expect(try await client.send(.get, "/v1/policy", key: key).text == before)
      #expect(try await fixture.store.policyVersion(tenant: "default") == 2)
    }
  }

  @Test(arguments: TestBackend.all) func dryRunValidatesWithoutWriting(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    try await fixture.withAPI { client in
      let response = try await put(client, key: fixture.adminKey, Self.document, query: "?dryRun=true")
      #expect(response.status == .ok)
      #expect(try response.decoded(VersionBody.self).version == 1)
      #expect(try await fixture.store.agents(tenant: "default").isEmpty)
      #expect(try await fixture.store.policyVersion(tenant: "default") == 1)
    }
  }

  @Test(arguments: TestBackend.all) func rolesForTheWholeDocument(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    let reader = try await fixture.store.issueKey(tenant: "default", role: .reader)
    let authorizer = try await fixture.store.issueKey(tenant: "default", role: .authorizer)
    try await fixture.withAPI { client in
      let read = try await client.send(.get, "/v1/policy", key: reader.key)
      #expect(read.status == .ok)
      #expect(try await client.send(.get, "/v1/policy", key: authorizer.key).status == .forbidden)
      #expect(try await put(client, key: reader.key, Self.document).status == .forbidden)
      #expect(try await put(client, key: authorizer.key, Self.document).status == .forbidden)
      #expect(try await client.send(.get, "/v1/policy", key: nil).status == .unauthorized)
    }
  }

  @Test(arguments: TestBackend.all) func aLongPollWakesWhenTheDocumentIsReplaced(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    let key = fixture.adminKey
    try await fixture.withAPI { client in
      async let polled = client.send(.get, "/v1/snapshot?knownVersion=1&waitSeconds=30", key: key)
      // Let the long-poll register before the write (a write before it is not missed either).
      let clock = ContinuousClock()
      let deadline = clock.now + .seconds(10)
      while await fixture.store.versionWatch.waiterCount == 0, clock.now < deadline {
        try await Task.sleep(for: .milliseconds(10))
      }
      let started = clock.now
      #expect(try await put(client, key: key, Self.document).status == .ok)
      let response = try await polled
      #expect(response.status == .ok)
      #expect(response.policyVersion == "2")
      #expect(clock.now - started < .seconds(20))
    }
  }
}
