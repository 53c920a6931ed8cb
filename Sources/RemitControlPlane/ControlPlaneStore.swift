import Foundation
import Logging
import RemitEngine
import SQLKit
import Synchronization

/// The tenant's policy in SQL: tenants, API keys, agents, missions, policy sections and the policy
/// version. Every write runs in one transaction that rebuilds the tenant's whole document, checks it
/// with `PolicySnapshot` and increments the version, so a stored state is always a valid policy.
public final class ControlPlaneStore: Sendable {
  /// The schema this code writes. Migrations run on `open`.
  /// 1: policy, keys. 2: audit events, authorizers, secrets. 3: delegation chains and edges,
  /// authorizer public keys, the audit events' chain id column.
  public static let schemaVersion = 3
  public static let defaultTenant = "default"

  /// Limits and clocks that tests (and operators) may change.
  public struct Options: Sendable {
    /// The newest audit events kept per tenant; older ones are deleted once the tenant holds 1% more.
    public var auditEventsPerTenant: Int
    /// An authorizer not seen for this long is `stale` (it heartbeats every 15 s).
    public var authorizerStaleAfter: Duration
    /// An authorizer not seen for this long is removed from the list (pods get new ids on rollout).
    public var authorizerForgetAfter: Duration
    /// The current time: injectable so tests can age authorizers without sleeping.
    public var now: @Sendable () -> Date
    /// Encrypts secrets at rest; nil disables secret writes (503 `secrets_disabled`).
    public var secretsKey: SecretsKey?
    /// Delegation chains a tenant may hold (live or expired and not yet swept); a hop that would
    /// start one more is refused with 409 `delegation_chains_full`.
    public var delegationChainsPerTenant: Int
    /// How often expired delegation chains are swept (in batches of `delegationSweepBatch`).
    public var delegationSweepInterval: Duration
    public var delegationSweepBatch: Int

    public init(
      auditEventsPerTenant: Int = 1_000_000,
      authorizerStaleAfter: Duration = .seconds(45),
      authorizerForgetAfter: Duration = .seconds(7 * 24 * 3600),
      now: @escaping @Sendable () -> Date = { Date() },
      secretsKey: SecretsKey? = nil,
      delegationChainsPerTenant: Int = 1_000_000,
      delegationSweepInterval: Duration = .seconds(60),
      delegationSweepBatch: Int = 500
    ) {
      self.auditEventsPerTenant = max(1, auditEventsPerTenant)
      self.authorizerStaleAfter = authorizerStaleAfter
      self.authorizerForgetAfter = authorizerForgetAfter
      self.now = now
      self.secretsKey = secretsKey
      self.delegationChainsPerTenant = max(1, delegationChainsPerTenant)
      self.delegationSweepInterval = delegationSweepInterval
      self.delegationSweepBatch = max(1, delegationSweepBatch)
    }
  }

  let database: any ControlPlaneDatabase
  /// Woken after each commit that changes a tenant's policy version.
  public let versionWatch: PolicyVersionWatch
  public let options: Options
  /// When this process next sweeps expired delegation chains (microseconds since 1970).
  let nextDelegationSweep = Mutex<Int64>(0)

  public init(
    database: any ControlPlaneDatabase,
    versionWatch: PolicyVersionWatch = PolicyVersionWatch(),
    options: Options = Options()
  ) {
    self.database = database
    self.versionWatch = versionWatch
    self.options = options
  }

  /// Creates the tables when missing and records the schema version.
  public func migrate() async throws {
    try await database.transaction { db in
      for statement in Self.schema + Self.dashboardSchema { try await db.raw(SQLQueryString(statement)).run() }
      let rows = try await db.raw("SELECT version FROM schema_version").all()
      if rows.isEmpty {
        try await db.raw("INSERT INTO schema_version (version) VALUES (\(bind: Self.schemaVersion))").run()
      } else if let stored = try rows.first?.decode(column: "version", as: Int.self) {
        if stored > Self.schemaVersion {
          throw ControlPlaneError(
            status: .internalServerError, code: "schema_too_new",
            message: "the database has schema version \(stored); this remit knows \(Self.schemaVersion). Upgrade remit."
          )
        }
        // Versions 2 and 3 add tables and indexes, which the statements above created; 3 also
        // adds the audit events' chain id column, filled from the stored documents.
        if stored < 3 { try await Self.addAuditChainColumn(db) }
        if stored < Self.schemaVersion {
          try await db.raw("UPDATE schema_version SET version = \(bind: Self.schemaVersion)").run()
        }
      }
      // After the column exists on every path.
      for statement in Self.indexesAfterMigration { try await db.raw(SQLQueryString(statement)).run() }
    }
  }

  /// Schema 2 → 3: `audit_events.chain_id`, so `GET /v1/audit/events?chain=` uses an index.
  static func addAuditChainColumn(_ db: any SQLDatabase) async throws {
    if db.dialect.name == "postgresql" {
      try await db.raw("ALTER TABLE audit_events ADD COLUMN IF NOT EXISTS chain_id VARCHAR(128)").run()
      try await db.raw(
        """
        UPDATE audit_events SET chain_id = document::jsonb ->> 'chainId'
        WHERE chain_id IS NULL AND length(document::jsonb ->> 'chainId') <= 128
        """
      ).run()
    } else {
      let columns = try await db.raw("PRAGMA table_info(audit_events)").all()
        .compactMap { try? $0.decode(column: "name", as: String.self) }
      if !columns.contains("chain_id") {
        try await db.raw("ALTER TABLE audit_events ADD COLUMN chain_id VARCHAR(128)").run()
      }
      try await db.raw(
        """
        UPDATE audit_events SET chain_id = json_extract(document, '$.chainId')
        WHERE chain_id IS NULL AND length(json_extract(document, '$.chainId')) <= 128
        """
      ).run()
    }
  }

  static let indexesAfterMigration: [String] = [
    "CREATE INDEX IF NOT EXISTS audit_events_chain ON audit_events (tenant, chain_id, time_us, decision_id)"
  ]

  static let schema: [String] = [
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS tenants (id VARCHAR(128) PRIMARY KEY, created_at BIGINT NOT NULL)",
    """
    CREATE TABLE IF NOT EXISTS api_keys (id VARCHAR(64) PRIMARY KEY, tenant VARCHAR(128) NOT NULL REFERENCES tenants(id),
    role VARCHAR(16) NOT NULL, key_hash VARCHAR(64) NOT NULL UNIQUE, created_at BIGINT NOT NULL)
    """,
    """
    CREATE TABLE IF NOT EXISTS agents (tenant VARCHAR(128) NOT NULL REFERENCES tenants(id), id VARCHAR(128) NOT NULL,
    description TEXT, namespace VARCHAR(63), service_account VARCHAR(253), mission VARCHAR(128), mode VARCHAR(16),
    PRIMARY KEY (tenant, id))
    """,
    "CREATE UNIQUE INDEX IF NOT EXISTS agents_mesh_identity ON agents (tenant, namespace, service_account)",
    """
    CREATE TABLE IF NOT EXISTS missions (tenant VARCHAR(128) NOT NULL REFERENCES tenants(id), id VARCHAR(128) NOT NULL,
    document TEXT NOT NULL, PRIMARY KEY (tenant, id))
    """,
    """
    CREATE TABLE IF NOT EXISTS policy_sections (tenant VARCHAR(128) NOT NULL REFERENCES tenants(id),
    name VARCHAR(32) NOT NULL, document TEXT NOT NULL, PRIMARY KEY (tenant, name))
    """,
    """
    CREATE TABLE IF NOT EXISTS policy_versions (tenant VARCHAR(128) PRIMARY KEY REFERENCES tenants(id),
    version BIGINT NOT NULL)
    """,
    // Schema 2. Audit events: one row per decision, keyed (tenant, decision_id) for idempotent
    // replays; `time_us` (microseconds) with `decision_id` is the keyset pages are cut on.
    """
    CREATE TABLE IF NOT EXISTS audit_events (tenant VARCHAR(128) NOT NULL REFERENCES tenants(id),
    decision_id VARCHAR(64) NOT NULL, time_us BIGINT NOT NULL, authorizer VARCHAR(128) NOT NULL,
    agent TEXT, verdict VARCHAR(8) NOT NULL, reason TEXT, kind VARCHAR(16), document TEXT NOT NULL,
    chain_id VARCHAR(128), PRIMARY KEY (tenant, decision_id))
    """,
    "CREATE INDEX IF NOT EXISTS audit_events_time ON audit_events (tenant, time_us, decision_id)",
    "CREATE INDEX IF NOT EXISTS audit_events_agent ON audit_events (tenant, agent, time_us, decision_id)",
    "CREATE INDEX IF NOT EXISTS audit_events_verdict ON audit_events (tenant, verdict, time_us, decision_id)",
    "CREATE INDEX IF NOT EXISTS audit_events_reason ON audit_events (tenant, reason, time_us, decision_id)",
    "CREATE INDEX IF NOT EXISTS audit_events_kind ON audit_events (tenant, kind, time_us, decision_id)",
    // How many events a tenant holds, so retention does not count a million rows per batch.
    """
    CREATE TABLE IF NOT EXISTS audit_event_counts (tenant VARCHAR(128) PRIMARY KEY REFERENCES tenants(id),
    stored BIGINT NOT NULL)
    """,
    """
    CREATE TABLE IF NOT EXISTS authorizers (tenant VARCHAR(128) NOT NULL REFERENCES tenants(id),
    id VARCHAR(128) NOT NULL, policy_version VARCHAR(64), last_sync_us BIGINT, last_seen_us BIGINT NOT NULL,
    registered_us BIGINT NOT NULL, remit_version VARCHAR(64) NOT NULL, PRIMARY KEY (tenant, id))
    """,
    // Secret values only as AES-GCM sealed boxes (nonce + ciphertext + tag), base64.
    """
    CREATE TABLE IF NOT EXISTS secrets (tenant VARCHAR(128) NOT NULL REFERENCES tenants(id),
    name VARCHAR(128) NOT NULL, sealed TEXT NOT NULL, updated_us BIGINT NOT NULL, PRIMARY KEY (tenant, name))
    """,
    // Schema 3. Delegation chains (SPEC section 6): one row per chain, locked by every hop on it;
    // `expires_us` is the end of its TTL (a chain whose expiry has passed is treated as absent).
    """
    CREATE TABLE IF NOT EXISTS delegation_chains (tenant VARCHAR(128) NOT NULL REFERENCES tenants(id),
    id VARCHAR(128) NOT NULL, root VARCHAR(253) NOT NULL, created_us BIGINT NOT NULL, last_hop_us BIGINT NOT NULL,
    expires_us BIGINT NOT NULL, PRIMARY KEY (tenant, id))
    """,
    "CREATE INDEX IF NOT EXISTS delegation_chains_recent ON delegation_chains (tenant, last_hop_us, id)",
    "CREATE INDEX IF NOT EXISTS delegation_chains_expiry ON delegation_chains (expires_us)",
    // One row per edge parent → child; the key (tenant, chain, child) makes a second parent for a
    // member impossible whatever the code above it does. `seq` is the order edges were recorded in.
    """
    CREATE TABLE IF NOT EXISTS delegation_edges (tenant VARCHAR(128) NOT NULL, chain VARCHAR(128) NOT NULL,
    seq INTEGER NOT NULL, parent VARCHAR(253) NOT NULL, child VARCHAR(253) NOT NULL, PRIMARY KEY (tenant, chain, child),
    FOREIGN KEY (tenant, chain) REFERENCES delegation_chains(tenant, id) ON DELETE CASCADE)
    """,
    // How many chains a tenant holds, so the per-tenant bound does not count a million rows.
    """
    CREATE TABLE IF NOT EXISTS delegation_chain_counts (tenant VARCHAR(128) PRIMARY KEY REFERENCES tenants(id),
    stored BIGINT NOT NULL)
    """,
    // The public keys an authorizer instance registered: its ES256 signing JWK (canonical JSON)
    // and its X25519 key agreement key (base64). They go when the instance is forgotten.
    """
    CREATE TABLE IF NOT EXISTS authorizer_keys (tenant VARCHAR(128) NOT NULL, instance VARCHAR(128) NOT NULL,
    kid VARCHAR(128) NOT NULL, signing_jwk TEXT NOT NULL, agreement VARCHAR(64) NOT NULL, updated_us BIGINT NOT NULL,
    PRIMARY KEY (tenant, instance), FOREIGN KEY (tenant, instance) REFERENCES authorizers(tenant, id) ON DELETE CASCADE)
    """,
  ]

  static func now() -> Int64 { Int64(Date().timeIntervalSince1970) }
}

// MARK: - Tenants and keys

/// Who a request is: the tenant and role of its API key.
public struct APIPrincipal: Sendable, Equatable {
  public var tenant: String
  public var role: APIKeyRole
  public var keyID: String
}

/// An API key as listed: never the key itself.
public struct APIKeyRecord: Codable, Sendable, Equatable {
  public var id: String
  public var role: APIKeyRole
  public var created: Int64
}

/// A newly issued key: the only time its value is shown.
public struct IssuedAPIKey: Codable, Sendable, Equatable {
  public var id: String
  public var role: APIKeyRole
  public var key: String
}

extension ControlPlaneStore {
  public func tenantCount() async throws -> Int {
    try await database.read { db in
      try await db.raw("SELECT COUNT(*) AS count FROM tenants").first()?.decode(column: "count", as: Int.self) ?? 0
    }
  }

  /// Creates a tenant with policy version 1 and an admin key, which is returned once. `adminKey`
  /// lets an operator choose the key (REMIT_BOOTSTRAP_ADMIN_KEY).
  public func createTenant(_ tenant: String, adminKey: String? = nil) async throws -> IssuedAPIKey {
    if let problem = PolicyRules.identifierProblem(tenant) {
      throw ControlPlaneError.validation(field: "tenant", problem)
    }
    let key = adminKey ?? APIKey.generate()
    guard APIKey.isWellFormed(key), key.utf8.count >= APIKey.prefix.utf8.count + 32 else {
      throw ControlPlaneError.validation(
        field: "key", "must start with \(APIKey.prefix) and have at least 32 characters after it (at most 256 in all)")
    }
    let issued = IssuedAPIKey(id: Self.newKeyID(), role: .admin, key: key)
    let now = Self.now()
    try await database.transaction { db in
      if try await db.raw("SELECT id FROM tenants WHERE id = \(bind: tenant)").first() != nil {
        throw ControlPlaneError(status: .conflict, code: "tenant_exists", message: "tenant \(tenant) already exists")
      }
      try await db.raw("INSERT INTO tenants (id, created_at) VALUES (\(bind: tenant), \(bind: now))").run()
      try await db.raw("INSERT INTO policy_versions (tenant, version) VALUES (\(bind: tenant), 1)").run()
      try await Self.insertKey(issued, tenant: tenant, db: db)
    }
    return issued
  }

  /// Issues a key in the tenant; its value is returned once and only its hash is kept.
  public func issueKey(tenant: String, role: APIKeyRole) async throws -> IssuedAPIKey {
    let issued = IssuedAPIKey(id: Self.newKeyID(), role: role, key: APIKey.generate())
    try await database.transaction { db in try await Self.insertKey(issued, tenant: tenant, db: db) }
    return issued
  }

  public func listKeys(tenant: String) async throws -> [APIKeyRecord] {
    try await database.read { db in
      try await db.raw("SELECT id, role, created_at FROM api_keys WHERE tenant = \(bind: tenant) ORDER BY id").all()
        .map { row in
          APIKeyRecord(
            id: try row.decode(column: "id", as: String.self),
            role: APIKeyRole(rawValue: try row.decode(column: "role", as: String.self)) ?? .reader,
            created: try row.decode(column: "created_at", as: Int64.self)
          )
        }
    }
  }

  /// The principal for a key value, or nil when no key has that hash.
  public func authenticate(key: String) async throws -> APIPrincipal? {
    guard APIKey.isWellFormed(key) else { return nil }
    let hash = APIKey.hash(key)
    return try await database.read { db in
      guard let row = try await db.raw("SELECT id, tenant, role FROM api_keys WHERE key_hash = \(bind: hash)").first(),
        let role = APIKeyRole(rawValue: try row.decode(column: "role", as: String.self))
      else { return nil }
      return APIPrincipal(
        tenant: try row.decode(column: "tenant", as: String.self),
        role: role,
        keyID: try row.decode(column: "id", as: String.self)
      )
    }
  }

  /// The stored hashes of a tenant's keys (tests check that no key value is stored).
  public func storedKeyHashes(tenant: String) async throws -> [String] {
    try await database.read { db in
      try await db.raw("SELECT key_hash FROM api_keys WHERE tenant = \(bind: tenant)").all()
        .map { try $0.decode(column: "key_hash", as: String.self) }
    }
  }

  static func insertKey(_ issued: IssuedAPIKey, tenant: String, db: any SQLDatabase) async throws {
    try await db.raw(
      """
      INSERT INTO api_keys (id, tenant, role, key_hash, created_at)
      VALUES (\(bind: issued.id), \(bind: tenant), \(bind: issued.role.rawValue), \(bind: APIKey.hash(issued.key)), \(bind: now()))
      """
    ).run()
  }

  static func newKeyID() -> String {
    "key_" + String(APIKey.generate().dropFirst(APIKey.prefix.count).prefix(12))
  }
}
