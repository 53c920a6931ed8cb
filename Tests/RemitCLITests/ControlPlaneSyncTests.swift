import Foundation
import Hummingbird
import Logging
import NIOCore
import RemitControlPlane
import RemitEngine
import Testing

@testable import RemitAuthorizer
@testable import RemitCLI

/// A real control plane (in process, SQLite, HTTP on port 0) and a real authorizer following it.
@Suite(.serialized) struct ControlPlaneSyncTests {
  static let logger: Logger = {
    var logger = Logger(label: "remit.sync-tests")
    logger.logLevel = .critical
    return logger
  }()

  @Test func theAuthorizerAppliesEveryNewVersionAndKeepsTheLastOneOnDisk() async throws {
    try await SyncFixture.with { fixture in
      let first = try await fixture.store.policyVersion(tenant: "default")
      try await fixture.waitUntilApplied(first)

      // A change through the store is applied by the authorizer within the propagation target.
      var agent = try await fixture.store.agent(tenant: "default", id: "checkout-bot")
      agent.mode = .observe
      let second = try await fixture.store.replaceAgent(tenant: "default", agent)
      let started = ContinuousClock.now
      try await fixture.waitUntilApplied(second)
      #expect(ContinuousClock.now - started < .seconds(2))
      #expect(fixture.authorizer.store.current?.document.agents?.first { $0.id == "checkout-bot" }?.mode == .observe)

      // The last good snapshot is on disk, and it is the document the control plane served.
      let (cached, _) = try SnapshotCache(stateDirectory: fixture.stateDirectory).load()
      #expect(cached.version == String(second))
      let status = fixture.authorizer.syncStatus.current
      #expect(status.appliedVersion == second)
      #expect(status.fromCache == false)
      #expect(status.lastSync != nil)
    }
  }

  @Test func decisionsReachTheAuditLogAndTheAuthorizerReportsItself() async throws {
    try await SyncFixture.with { fixture in
      let version = try await fixture.store.policyVersion(tenant: "default")
      try await fixture.waitUntilApplied(version)
      var decision = Decision(sourcePrincipal: "spiffe://cluster.local/ns/agents/sa/checkout-bot")
      decision.reason = .scopeToolDenied
      decision.agent = "checkout-bot"
      decision.tool = "delete_inventory"
      decision.findings = ["dlp_block:credit_card@$.params.arguments.card"]
      let ids = (0..<3).map { "sync-test-\($0)" }
      for id in ids { fixture.authorizer.decisionLog.record(decision, id: id, latency: .microseconds(12)) }

      let deadline = ContinuousClock.now + .seconds(10)
      var page = AuditPage(events: [], nextCursor: nil)
      while Set(page.events.map(\.decisionId)) != Set(ids), ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(50))
        page = try await fixture.store.auditEvents(tenant: "default", AuditQuery(agent: "checkout-bot"))
      }
      #expect(Set(page.events.map(\.decisionId)) == Set(ids))
      let event = try #require(page.events.first)
      #expect(event.verdict == "deny" && event.reason == "scope_tool_denied" && event.tool == "delete_inventory")
      #expect(event.findings == ["dlp_block:credit_card@$.params.arguments.card"])
      #expect(event.latencyUs == 12)
      #expect(event.authorizer == "sync-test")
      // Counted once the control plane's answer is back, a moment after the commit.
      while fixture.authorizer.auditQueue?.statistics.sent != 3, ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(10))
      }
      #expect(fixture.authorizer.auditQueue?.statistics == AuditStatistics(sent: 3, spooled: 0, dropped: 0))

      var record = try await fixture.store.authorizers(tenant: "default").first
      let reportDeadline = ContinuousClock.now + .seconds(5)
      while record?.policyVersion != String(version), ContinuousClock.now < reportDeadline {
        try await Task.sleep(for: .milliseconds(50))
        record = try await fixture.store.authorizers(tenant: "default").first
      }
      #expect(record?.id == "sync-test")
      #expect(record?.policyVersion == String(version))
      #expect(record?.status == .healthy)
    }
  }

  @Test func policyExportAndApplyRoundTripThroughTheControlPlane() async throws {
    try await SyncFixture.with { fixture in
      let directory = try SyncFixture.temporaryDirectory()
      defer { try? FileManager.default.removeItem(atPath: directory) }
      let connection = [
        "--control-plane", "http://127.0.0.1:\(fixture.controlPlanePort)", "--api-key", fixture.adminKey,
      ]
      let exported = directory + "/policy.yaml"
      #expect(await CLIHarness.exitCode(["policy", "export", "--output", exported] + connection) == 0)
      let text = try String(contentsOfFile: exported, encoding: .utf8)
      let document = try PolicyDocument.load(Array(text.utf8), format: .yaml)
      #expect(document.agents?.map(\.id).sorted() == ["batch-reporter", "checkout-bot", "planner", "research-bot"])

      // Edit in git, apply: one new version with the change, enforced by the authorizer.
      let before = try await fixture.store.policyVersion(tenant: "default")
      var changed = document
      let index = try #require(changed.missions?.firstIndex { $0.id == "checkout" })
      changed.missions?[index].allow?[0].mcp?.tools = ["get_stock"]
      let edited = String(decoding: try JSONEncoder().encode(changed), as: UTF8.self)
      let editedFile = directory + "/policy.json"
      try edited.write(toFile: editedFile, atomically: true, encoding: .utf8)
      #expect(await CLIHarness.exitCode(["policy", "apply", editedFile, "--dry-run"] + connection) == 0)
      #expect(try await fixture.store.policyVersion(tenant: "default") == before)
      #expect(await CLIHarness.exitCode(["policy", "apply", editedFile] + connection) == 0)
      #expect(try await fixture.store.policyVersion(tenant: "default") == before + 1)
      let checkout = try await fixture.store.mission(tenant: "default", id: "checkout")
      #expect(checkout.allow?.first?.mcp?.tools == ["get_stock"])
      try await fixture.waitUntilApplied(before + 1)

      // An invalid document changes nothing and exits 1; a reader key cannot apply.
      try "apiVersion: remit/v1\nkind: Policy\nagents: [{id: a, meshIdentity: {namespace: x}}]\n".write(
        toFile: exported, atomically: true, encoding: .utf8)
      #expect(await CLIHarness.exitCode(["policy", "apply", exported] + connection) == 1)
      let reader = try await fixture.store.issueKey(tenant: "default", role: .reader).key
      let asReader = ["--control-plane", "http://127.0.0.1:\(fixture.controlPlanePort)", "--api-key", reader]
      #expect(await CLIHarness.exitCode(["policy", "apply", editedFile] + asReader) == 1)
      #expect(await CLIHarness.exitCode(["policy", "export", "--format", "json"] + asReader) == 0)
      #expect(try await fixture.store.policyVersion(tenant: "default") == before + 1)
    }
  }

  @Test func aSnapshotThatDoesNotValidateHereKeepsTheLastGoodOne() async throws {
    try await SyncFixture.with { fixture in
      let first = try await fixture.store.policyVersion(tenant: "default")
      try await fixture.waitUntilApplied(first)
      // Served bytes that do not validate (an older authorizer meeting a newer document) must not
      // replace the snapshot in force.
      let source = ControlPlaneSource(
        client: ControlPlaneClient(connection: fixture.connection), store: fixture.authorizer.store,
        status: fixture.authorizer.syncStatus, logger: Self.logger)
      source.apply(Array(#"{"apiVersion":"remit/v9"}"#.utf8), version: first + 1)
      await source.client.shutdown()
      #expect(fixture.authorizer.store.current?.version == String(first))
      #expect(fixture.authorizer.syncStatus.current.rejectedVersion == first + 1)
    }
  }

  @Test func anAuthorizerStartsFromItsDiskSnapshotWhenTheControlPlaneIsDown() async throws {
    let stateDirectory = try SyncFixture.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: stateDirectory) }
    var document = try PolicyDocument.load(Array(DemoPolicy.yaml.utf8), format: .yaml)
    document.metadata = try JSONDecoder().decode(
      PolicyDocument.Metadata.self, from: Data(#"{"name": "default", "version": "7"}"#.utf8))
    try SnapshotCache(stateDirectory: stateDirectory).save(Array(try JSONEncoder().encode(document)))

    let authorizer = try Authorizer(
      configuration: AuthorizerConfiguration(
        policySource: .controlPlane(
          ControlPlaneConnection(
            baseURL: "http://127.0.0.1:\(try SyncFixture.closedPort())", apiKey: "remit_unused",
            instanceID: "cache-test", stateDirectory: stateDirectory, requestTimeout: .seconds(2))),
        listen: ListenAddress(host: "127.0.0.1", port: 0), adminListen: nil),
      logger: Self.logger)
    try await SyncFixture.running(authorizer) {
      #expect(authorizer.store.current?.version == "7")
      #expect(authorizer.syncStatus.current.fromCache)
      #expect(authorizer.syncStatus.current.failures >= 1)
    }
  }

  @Test func withoutAControlPlaneOrACacheTheAuthorizerHasNoSnapshotAndDenies() async throws {
    let stateDirectory = try SyncFixture.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: stateDirectory) }
    let authorizer = try Authorizer(
      configuration: AuthorizerConfiguration(
        policySource: .controlPlane(
          ControlPlaneConnection(
            baseURL: "http://127.0.0.1:\(try SyncFixture.closedPort())", apiKey: "remit_unused",
            instanceID: "empty-test", stateDirectory: stateDirectory, requestTimeout: .seconds(2))),
        listen: ListenAddress(host: "127.0.0.1", port: 0), adminListen: nil),
      logger: Self.logger)
    try await SyncFixture.running(authorizer) {
      #expect(authorizer.store.current == nil)
      let decision = DecisionEngine().decide(
        GovernedRequest(sourcePrincipal: "spiffe://cluster.local/ns/agents/sa/checkout-bot"),
        snapshot: authorizer.store.current)
      #expect(decision.verdict == .deny)
    }
  }
}

/// A control plane seeded with the demo policy, an authorizer key, and an authorizer following it.
struct SyncFixture: Sendable {
  let store: ControlPlaneStore
  let authorizer: Authorizer
  let connection: ControlPlaneConnection
  let stateDirectory: String
  let adminKey: String
  let controlPlanePort: Int

  static func with(
    audit: AuditShippingConfiguration = AuditShippingConfiguration(flushInterval: .milliseconds(100)),
    _ body: @Sendable (SyncFixture) async throws -> Void
  ) async throws {
    let stateDirectory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: stateDirectory) }
    let store = try await ControlPlane.openStore(.sqliteMemory, logger: ControlPlaneSyncTests.logger)
    let admin = try #require(try await ControlPlane.bootstrap(store, adminKey: nil))
    let key = try await store.issueKey(tenant: ControlPlaneStore.defaultTenant, role: .authorizer).key
    try await DevCommand.seedIfEmpty(store: store, logger: ControlPlaneSyncTests.logger)

    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    let application = ControlPlane.application(
      store: store, host: "127.0.0.1", port: 0, logger: ControlPlaneSyncTests.logger,
      onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) })
    do {
      try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await application.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        let connection = ControlPlaneConnection(
          baseURL: "http://127.0.0.1:\(port)", apiKey: key, instanceID: "sync-test", stateDirectory: stateDirectory,
          longPollSeconds: 5, requestTimeout: .seconds(5), heartbeatInterval: .milliseconds(200),
          maximumBackoff: .milliseconds(500), audit: audit)
        let authorizer = try Authorizer(
          configuration: AuthorizerConfiguration(
            policySource: .controlPlane(connection), listen: ListenAddress(host: "127.0.0.1", port: 0),
            adminListen: nil),
          logger: ControlPlaneSyncTests.logger)
        try await running(authorizer) {
          try await body(
            SyncFixture(
              store: store, authorizer: authorizer, connection: connection, stateDirectory: stateDirectory,
              adminKey: admin.key, controlPlanePort: port))
        }
        group.cancelAll()
      }
    } catch {
      try? await store.close()
      throw error
    }
    try await store.close()
  }

  /// Runs the authorizer until `body` returns.
  static func running(_ authorizer: Authorizer, _ body: @Sendable () async throws -> Void) async throws {
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask {
        defer { continuation.finish() }
        try await authorizer.run(onListening: { continuation.yield($0) })
      }
      var iterator = ports.makeAsyncIterator()
      _ = try #require(await iterator.next())
      try await body()
      group.cancelAll()
    }
  }

  func waitUntilApplied(_ version: Int64, within limit: Duration = .seconds(10)) async throws {
    let deadline = ContinuousClock.now + limit
    while authorizer.store.current?.version != String(version) {
      guard ContinuousClock.now < deadline else {
        Issue.record("version \(version) not applied; current \(authorizer.store.current?.version ?? "none")")
        return
      }
      try await Task.sleep(for: .milliseconds(20))
    }
  }

  static func temporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("remit-sync-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  /// A loopback port nothing listens on: bound, read, and closed again.
  static func closedPort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
        bind(descriptor, socketAddress, length) == 0 && getsockname(descriptor, socketAddress, &length) == 0
      }
    }
    guard bound else { throw CancellationError() }
    return Int(UInt16(bigEndian: address.sin_port))
  }
}

#if canImport(Glibc)
  import Glibc
#endif
