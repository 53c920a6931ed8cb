import Foundation
import SQLKit
import Testing

@testable import RemitControlPlane

@Suite struct SchemaMigrationTests {
  /// A store written by schema 2 (audit events without the chain id column) migrates to 3: the
  /// new tables appear, stored events get their chain id, and the chain filter finds them.
  @Test(arguments: TestBackend.all) func schemaTwoMigratesToThree(_ backend: TestBackend) async throws {
    let location = try await backend.freshLocation()
    let database: any ControlPlaneDatabase
    switch location {
    case .postgres(let url):
      database = try PostgresControlPlaneDatabase(url: url, logger: ControlPlaneFixture.quietLogger)
    default: database = try await SQLiteControlPlaneDatabase(path: nil, logger: ControlPlaneFixture.quietLogger)
    }
    var event = auditEvent("old-event", offset: 1)
    event.chainId = "chain-from-v2"
    let document = try ControlPlaneStore.json(event)
    try await database.transaction { db in
      for statement in [
        "CREATE TABLE schema_version (version INTEGER NOT NULL)",
        "INSERT INTO schema_version (version) VALUES (2)",
        "CREATE TABLE tenants (id VARCHAR(128) PRIMARY KEY, created_at BIGINT NOT NULL)",
        "INSERT INTO tenants (id, created_at) VALUES ('default', 0)",
        "CREATE TABLE policy_versions (tenant VARCHAR(128) PRIMARY KEY REFERENCES tenants(id), version BIGINT NOT NULL)",
        "INSERT INTO policy_versions (tenant, version) VALUES ('default', 1)",
        """
        CREATE TABLE audit_events (tenant VARCHAR(128) NOT NULL REFERENCES tenants(id),
        decision_id VARCHAR(64) NOT NULL, time_us BIGINT NOT NULL, authorizer VARCHAR(128) NOT NULL,
        agent TEXT, verdict VARCHAR(8) NOT NULL, reason TEXT, kind VARCHAR(16), document TEXT NOT NULL,
        PRIMARY KEY (tenant, decision_id))
        """,
      ] {
        try await db.raw(SQLQueryString(statement)).run()
      }
      try await db.raw(
        """
        INSERT INTO audit_events (tenant, decision_id, time_us, authorizer, verdict, document)
        VALUES ('default', 'old-event', 1, 'authz-1', 'allow', \(bind: document))
        """
      ).run()
    }
    let store = ControlPlaneStore(database: database)
    try await store.migrate()
    // Twice: a second process starting on the migrated store changes nothing.
    try await store.migrate()
    let version = try await database.read { db in
      try await db.raw("SELECT version FROM schema_version").first()?.decode(column: "version", as: Int.self)
    }
    #expect(version == 3)
    let page = try await store.auditEvents(tenant: "default", AuditQuery(chain: "chain-from-v2"))
    #expect(page.events.map(\.decisionId) == ["old-event"])
    let record = try await store.recordHop(
      tenant: "default", .init(chainId: "after-migration", caller: "a", callee: "b", maxDepth: 2, ttlSeconds: 60))
    #expect(record.outcome == .recorded)
    try await store.close()
  }
}
