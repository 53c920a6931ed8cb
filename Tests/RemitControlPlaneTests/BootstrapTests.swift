import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import RemitControlPlane

@Suite struct BootstrapTests {
  @Test(arguments: TestBackend.all) func bootstrapKeyWorksAndOnlyItsHashIsStored(_ backend: TestBackend) async throws {
    let store = try await ControlPlane.openStore(
      try await backend.freshLocation(), logger: ControlPlaneFixture.quietLogger)
    let issued = try #require(try await ControlPlane.bootstrap(store, adminKey: nil))
    #expect(issued.role == .admin)
    #expect(issued.key.hasPrefix("remit_"))
    // 32 bytes in unpadded base64url are 43 characters.
    let encoded = issued.key.dropFirst("remit_".count)
    #expect(encoded.count == 43)
    #expect(
      encoded.utf8.allSatisfy {
        $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0)
          || (0x61...0x7A).contains($0)
      })

    let hashes = try await store.storedKeyHashes(tenant: "default")
    #expect(hashes == [APIKey.hash(issued.key)])
    #expect(hashes.allSatisfy { !$0.contains(encoded) && $0.utf8.count == 64 })
    #expect(
      try await store.authenticate(key: issued.key) == APIPrincipal(tenant: "default", role: .admin, keyID: issued.id))

    // A second start does not create another tenant or key.
    #expect(try await ControlPlane.bootstrap(store, adminKey: nil) == nil)
    #expect(try await store.tenantCount() == 1)

    let application = ControlPlane.application(
      store: store, host: "127.0.0.1", port: 0, logger: ControlPlaneFixture.quietLogger)
    try await application.test(.live) { client in
      let response = try await client.send(.get, "/v1/agents", key: issued.key)
      #expect(response.status == .ok)
    }
    try await store.close()
  }

  @Test(arguments: TestBackend.all) func theBootstrapKeyCanBeChosenButMustLookLikeAKey(_ backend: TestBackend)
    async throws
  {
    let store = try await ControlPlane.openStore(
      try await backend.freshLocation(), logger: ControlPlaneFixture.quietLogger)
    await #expect(throws: ControlPlaneError.self) { try await ControlPlane.bootstrap(store, adminKey: "hunter2") }
    #expect(try await store.tenantCount() == 0)
    let chosen = "remit_" + String(repeating: "k", count: 40)
    let issued = try #require(try await ControlPlane.bootstrap(store, adminKey: chosen))
    #expect(issued.key == chosen)
    #expect(try await store.authenticate(key: chosen)?.role == .admin)
    try await store.close()
  }

  @Test func aFileStoreKeepsItsDataAcrossRestartsAndMigratesIdempotently() async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("remit-cp-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let location = DatabaseLocation.sqliteFile(directory.appendingPathComponent("remit.db").path)

    let first = try await ControlPlane.openStore(location, logger: ControlPlaneFixture.quietLogger)
    let issued = try #require(try await ControlPlane.bootstrap(first, adminKey: nil))
    _ = try await first.createAgent(tenant: "default", .init(id: "bot"))
    try await first.close()

    let second = try await ControlPlane.openStore(location, logger: ControlPlaneFixture.quietLogger)
    #expect(try await ControlPlane.bootstrap(second, adminKey: nil) == nil)
    #expect(try await second.authenticate(key: issued.key)?.tenant == "default")
    #expect(try await second.agents(tenant: "default").map(\.id) == ["bot"])
    #expect(try await second.policyVersion(tenant: "default") == 2)
    try await second.close()
  }

  @Test(arguments: [
    ("sqlite:remit.db", DatabaseLocation.sqliteFile("remit.db")),
    ("sqlite:/var/lib/remit/cp.db", .sqliteFile("/var/lib/remit/cp.db")),
    ("sqlite::memory:", .sqliteMemory),
    ("postgres://remit@127.0.0.1:5432/remit", .postgres(url: "postgres://remit@127.0.0.1:5432/remit")),
  ])
  func databaseLocationsParse(_ text: String, _ expected: DatabaseLocation) throws {
    #expect(try DatabaseLocation(parsing: text) == expected)
  }

  @Test(arguments: ["sqlite:", "mysql://x", "remit.db", ""])
  func unsupportedDatabaseLocationsAreRefused(_ text: String) {
    #expect(throws: ControlPlaneConfigurationError.self) { try DatabaseLocation(parsing: text) }
  }
}
