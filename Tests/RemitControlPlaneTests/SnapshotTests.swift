import Foundation
import Hummingbird
import HummingbirdTesting
import RemitEngine
import Testing

@testable import RemitControlPlane

@Suite struct SnapshotTests {
  static let mission = #"""
    {"id": "checkout", "description": "Take payment",
     "allow": [{"to": "tools/inventory", "mcp": {"tools": ["get_stock", "reserve_*"]}},
               {"to": "tools/web", "http": [{"methods": ["GET"], "paths": ["/api/v1/items/*"]}]}],
     "egress": ["api.stripe.com"]}
    """#

  func snapshotDocument(_ client: some TestClientProtocol, key: String) async throws -> PolicyDocument {
    let response = try await client.send(.get, "/v1/snapshot", key: key)
    #expect(response.status == .ok)
    let document = try PolicyDocument.decode(Array(response.body.readableBytesView), format: .json)
    #expect(response.policyVersion == document.metadata?.version?.value)
    // What is served compiles as is.
    _ = try PolicySnapshot(document)
    return document
  }

  @Test(arguments: TestBackend.all) func everyChangeIncrementsTheVersionAndTheSnapshotShowsIt(_ backend: TestBackend)
    async throws
  {
    let fixture = try await ControlPlaneFixture.make(backend)
    let key = fixture.adminKey
    try await fixture.withAPI { client in
      var document = try await snapshotDocument(client, key: key)
      #expect(document.metadata?.version?.value == "1")
      #expect(document.apiVersion == "remit/v1")
      #expect(document.agents == [] && document.missions == [])

      var expected = 1
      func expectVersion(_ response: TestResponse, _ status: HTTPResponse.Status) {
        expected += 1
        #expect(response.status == status, "\(response.text)")
        #expect(response.policyVersion == String(expected))
      }
      expectVersion(try await client.send(.post, "/v1/missions", key: key, json: Self.mission), .created)
      let agent = try agentJSON(
        "checkout-bot", namespace: "agents", serviceAccount: "checkout-bot", mission: "checkout")
      expectVersion(try await client.send(.post, "/v1/agents", key: key, json: agent), .created)
      expectVersion(
        try await client.send(
          .put, "/v1/agents/checkout-bot", key: key,
          json:
            #"{"meshIdentity": {"namespace": "agents", "serviceAccount": "checkout-bot"}, "mission": "checkout", "mode": "observe"}"#
        ), .ok)
      expectVersion(
        try await client.send(
          .put, "/v1/policy/settings", key: key, json: #"{"trustDomains": ["cluster.local", "prod.example"]}"#), .ok)
      expectVersion(
        try await client.send(.put, "/v1/policy/dlp", key: key, json: #"{"detectors": {"credit_card": "block"}}"#), .ok)
      expectVersion(
        try await client.send(
          .put, "/v1/policy/threatIntel", key: key,
          json: #"{"injection": "log", "indicators": [{"type": "domain", "value": "evil.example"}]}"#), .ok)
      expectVersion(
        try await client.send(
          .put, "/v1/policy/aibom", key: key, json: #"{"components": [{"to": "tools/inventory", "tool": "get_stock"}]}"#
        ), .ok)
      expectVersion(
        try await client.send(.put, "/v1/missions/checkout", key: key, json: #"{"allow": [{"to": "tools/*"}]}"#), .ok)

      document = try await snapshotDocument(client, key: key)
      #expect(document.metadata?.version?.value == String(expected))
      #expect(document.metadata?.name == "default")
      #expect(
        document.agents == [
          .init(
            id: "checkout-bot", meshIdentity: .init(namespace: "agents", serviceAccount: "checkout-bot"),
            mission: "checkout", mode: .observe)
        ])
      #expect(document.missions == [.init(id: "checkout", allow: [.init(to: "tools/*")])])
      #expect(document.settings?.trustDomains == ["cluster.local", "prod.example"])
      #expect(document.dlp?.detectors == ["credit_card": .block])
      #expect(document.threatIntel?.indicators?.first?.value == "evil.example")
      #expect(document.aibom?.components?.first?.tool == "get_stock")

      let section = try await client.send(.get, "/v1/policy/settings", key: key)
      #expect(try section.decoded(PolicyDocument.Settings.self).trustDomains == ["cluster.local", "prod.example"])

      expectVersion(try await client.send(.delete, "/v1/agents/checkout-bot", key: key), .noContent)
      expectVersion(try await client.send(.delete, "/v1/missions/checkout", key: key), .noContent)
      document = try await snapshotDocument(client, key: key)
      #expect(document.agents == [] && document.missions == [])
      #expect(try await fixture.store.policyVersion(tenant: "default") == Int64(expected))
    }
  }

  @Test(arguments: TestBackend.all) func writeThatWouldMakeTheDocumentInvalidIs422AndChangesNothing(
    _ backend: TestBackend
  ) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    let key = fixture.adminKey
    try await fixture.withAPI { client in
      #expect(try await client.send(.post, "/v1/missions", key: key, json: Self.mission).status == .created)
      let agent = try agentJSON("bot", namespace: "agents", serviceAccount: "bot", mission: "checkout")
      #expect(try await client.send(.post, "/v1/agents", key: key, json: agent).status == .created)
      let before = try await client.send(.get, "/v1/snapshot", key: key).text

      // The agent's mission would no longer exist.
      let deletion = try await client.send(.delete, "/v1/missions/checkout", key: key)
      #expect(deletion.status == .unprocessableContent)
      #expect(deletion.errorBody?.errors?.contains { $0.field == "agents[0].mission" } == true, "\(deletion.text)")

      // Delegation settings are validated: a depth no ledger accepts is refused.
      let delegation = try await client.send(
        .put, "/v1/policy/settings", key: key, json: #"{"delegation": {"maxDepth": 0}}"#)
      #expect(delegation.status == .unprocessableContent)
      #expect(delegation.errorBody?.error.field?.hasSuffix("delegation.maxDepth") == true, "\(delegation.text)")

      // A mission rule broken deep inside, reported with the mission's own path.
      let badGrant = try await client.send(
        .put, "/v1/missions/checkout", key: key, json: #"{"allow": [{"to": "Tools/Inventory"}]}"#)
      #expect(badGrant.status == .unprocessableContent)
      #expect(badGrant.errorBody?.error.field == "allow[0].to", "\(badGrant.text)")

      let badDLP = try await client.send(
        .put, "/v1/policy/dlp", key: key, json: #"{"detectors": {"no_such": "block"}}"#)
      #expect(badDLP.status == .unprocessableContent)

      let unknownSection = try await client.send(.put, "/v1/policy/secrets", key: key, json: "{}")
      #expect(unknownSection.status == .notFound)

      #expect(try await client.send(.get, "/v1/snapshot", key: key).text == before)
      #expect(try await fixture.store.policyVersion(tenant: "default") == 3)
      #expect(try await client.send(.get, "/v1/policy/settings", key: key).text == "{}")
    }
  }

  @Test(arguments: TestBackend.all) func longPollAnswersAsSoonAsTheVersionChanges(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    let key = fixture.adminKey
    try await fixture.withAPI { client in
      let clock = ContinuousClock()
      let start = clock.now
      async let waited = client.send(.get, "/v1/snapshot?knownVersion=1&waitSeconds=30", key: key)
      try await Task.sleep(for: .milliseconds(300))
      #expect(try await client.send(.post, "/v1/agents", key: key, json: #"{"id": "bot"}"#).status == .created)
      let response = try await waited
      let elapsed = clock.now - start
      #expect(response.status == .ok)
      #expect(response.policyVersion == "2")
      #expect(response.text.contains("\"bot\""))
      #expect(elapsed < .seconds(10))
    }
  }

  @Test(arguments: TestBackend.all) func longPollWithoutAChangeIs304AfterTheWait(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    try await fixture.withAPI { client in
      let clock = ContinuousClock()
      let start = clock.now
      let response = try await client.send(.get, "/v1/snapshot?knownVersion=1&waitSeconds=1", key: fixture.adminKey)
      #expect(response.status == .notModified)
      #expect(response.policyVersion == "1")
      #expect(response.body.readableBytes == 0)
      #expect(clock.now - start >= .milliseconds(900))

      // A stale known version is answered at once.
      let stale = try await client.send(.get, "/v1/snapshot?knownVersion=0&waitSeconds=60", key: fixture.adminKey)
      #expect(stale.status == .ok)
      #expect(stale.policyVersion == "1")
      #expect(await fixture.store.versionWatch.waiterCount == 0)
    }
  }

  @Test(arguments: ["knownVersion=-1", "knownVersion=x", "knownVersion=1&waitSeconds=61", "waitSeconds=-1"])
  func badLongPollParametersAre422(_ query: String) async throws {
    let fixture = try await ControlPlaneFixture.make()
    try await fixture.withAPI { client in
      let response = try await client.send(.get, "/v1/snapshot?\(query)", key: fixture.adminKey)
      #expect(response.status == .unprocessableContent)
    }
  }

  @Test func theNumberOfWaitersIsBounded() async throws {
    let watch = PolicyVersionWatch(maximumWaiters: 1)
    async let first = watch.waitForChange(tenant: "t", after: 1, timeout: .seconds(30))
    while await watch.waiterCount == 0 { try await Task.sleep(for: .milliseconds(10)) }
    #expect(await watch.waitForChange(tenant: "t", after: 1, timeout: .seconds(30)) == .tooManyWaiters)
    // Another tenant's commit wakes nobody here; this tenant's does.
    await watch.publish(tenant: "other", version: 5)
    #expect(await watch.waiterCount == 1)
    await watch.publish(tenant: "t", version: 2)
    #expect(await first == .changed)
    #expect(await watch.waitForChange(tenant: "t", after: 1, timeout: .seconds(30)) == .changed)
    #expect(await watch.waitForChange(tenant: "t", after: 2, timeout: .milliseconds(50)) == .timedOut)
  }
}

@Suite struct PolicyVersionWatchTests {
  @Test func aCancelledLongPollLeavesNoWaiterBehind() async throws {
    let watch = PolicyVersionWatch()
    let waiting = Task { await watch.waitForChange(tenant: "t", after: 1, timeout: .seconds(60)) }
    while await watch.waiterCount == 0 { try await Task.sleep(for: .milliseconds(10)) }
    waiting.cancel()
    #expect(await waiting.value == .timedOut)
    #expect(await watch.waiterCount == 0)

    let alreadyCancelled = Task {
      withUnsafeCurrentTask { $0?.cancel() }
      return await watch.waitForChange(tenant: "t", after: 1, timeout: .seconds(60))
    }
    let clock = ContinuousClock()
    let start = clock.now
    #expect(await alreadyCancelled.value == .timedOut)
    #expect(clock.now - start < .seconds(30))
    #expect(await watch.waiterCount == 0)
  }
}
