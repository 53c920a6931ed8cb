import Crypto
import SQLKit

/// A signed-in dashboard user: the tenant and role of the API key that signed in, and the
/// session's CSRF token. The session id itself lives only in the browser's cookie; the store
/// keeps its SHA-256.
struct DashboardSession: Sendable, Equatable {
  var tenant: String
  var role: APIKeyRole
  var keyID: String
  /// For the hidden field of every POST form; derived from the session id, so never stored.
  var csrfToken: String

  var canWrite: Bool { role == .admin }

  /// 32 bytes from the system CSPRNG, base64url: 43 characters.
  static func newToken() -> String {
    var generator = SystemRandomNumberGenerator()
    return APIKey.base64URL((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
  }

  /// A session id or sign-in token has exactly the shape `newToken` makes; anything else is
  /// rejected before hashing or querying.
  static func isWellFormedToken(_ token: String) -> Bool {
    token.utf8.count == 43
      && token.utf8.allSatisfy { byte in
        (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
          || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
          || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
          || byte == UInt8(ascii: "_")
      }
  }

  static func csrfToken(forSession token: String) -> String {
    APIKey.base64URL(Array(SHA256.hash(data: Array("remit-dashboard-csrf:\(token)".utf8))))
  }

  /// Equal strings, compared in time that depends only on their lengths.
  static func constantTimeEqual(_ left: String, _ right: String) -> Bool {
    let a = Array(left.utf8)
    let b = Array(right.utf8)
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for index in a.indices { difference |= a[index] ^ b[index] }
    return difference == 0
  }
}

// MARK: - Storage

/// Sessions are rows of `dashboard_sessions`, so every control plane replica on one database
/// knows them, they survive a restart, and revoking the API key that signed in ends them (the
/// lookup joins `api_keys`).
extension ControlPlaneStore {
  static let dashboardSchema: [String] = [
    """
    CREATE TABLE IF NOT EXISTS dashboard_sessions (id_hash VARCHAR(64) PRIMARY KEY,
    tenant VARCHAR(128) NOT NULL REFERENCES tenants(id), role VARCHAR(16) NOT NULL, key_id VARCHAR(64) NOT NULL,
    created_at BIGINT NOT NULL, last_seen BIGINT NOT NULL)
    """,
    "CREATE INDEX IF NOT EXISTS dashboard_sessions_tenant ON dashboard_sessions (tenant, last_seen)",
  ]

  /// Starts a session for `principal` and returns its id (for the cookie) with the session.
  /// Removes expired sessions, and the tenant's least recently used ones beyond the bound.
  func createDashboardSession(
    for principal: APIPrincipal, configuration: DashboardConfiguration, now: Int64
  ) async throws -> (token: String, session: DashboardSession) {
    let token = DashboardSession.newToken()
    let hash = APIKey.hash(token)
    let idleCutoff = now - configuration.idleTimeout
    let absoluteCutoff = now - configuration.absoluteTimeout
    let keep = max(configuration.maximumSessionsPerTenant - 1, 0)
    try await database.transaction { db in
      try await db.raw(
        """
        DELETE FROM dashboard_sessions WHERE last_seen <= \(bind: idleCutoff) OR created_at <= \(bind: absoluteCutoff)
        """
      ).run()
      let live = try await db.raw(
        "SELECT id_hash FROM dashboard_sessions WHERE tenant = \(bind: principal.tenant) ORDER BY last_seen DESC"
      ).all().map { try $0.decode(column: "id_hash", as: String.self) }
      for stale in live.dropFirst(keep) {
        try await db.raw("DELETE FROM dashboard_sessions WHERE id_hash = \(bind: stale)").run()
      }
      try await db.raw(
        """
        INSERT INTO dashboard_sessions (id_hash, tenant, role, key_id, created_at, last_seen)
        VALUES (\(bind: hash), \(bind: principal.tenant), \(bind: principal.role.rawValue), \(bind: principal.keyID),
        \(bind: now), \(bind: now))
        """
      ).run()
    }
    let session = DashboardSession(
      tenant: principal.tenant, role: principal.role, keyID: principal.keyID,
      csrfToken: DashboardSession.csrfToken(forSession: token))
    return (token, session)
  }

  /// The live session with this id, or nil (unknown, expired, or its API key was revoked).
  /// Records the use at most once a minute, which is the idle timeout's resolution.
  func dashboardSession(
    token: String, configuration: DashboardConfiguration, now: Int64
  ) async throws -> DashboardSession? {
    guard DashboardSession.isWellFormedToken(token) else { return nil }
    let hash = APIKey.hash(token)
    struct Stored: Sendable {
      var tenant: String
      var role: String
      var keyID: String
      var createdAt: Int64
      var lastSeen: Int64
    }
    let stored = try await database.read { db -> Stored? in
      guard
        let row = try await db.raw(
          """
          SELECT s.tenant, s.role, s.key_id, s.created_at, s.last_seen FROM dashboard_sessions s
          JOIN api_keys k ON k.id = s.key_id AND k.tenant = s.tenant WHERE s.id_hash = \(bind: hash)
          """
        ).first()
      else { return nil }
      return Stored(
        tenant: try row.decode(column: "tenant", as: String.self),
        role: try row.decode(column: "role", as: String.self),
        keyID: try row.decode(column: "key_id", as: String.self),
        createdAt: try row.decode(column: "created_at", as: Int64.self),
        lastSeen: try row.decode(column: "last_seen", as: Int64.self))
    }
    guard let stored, let role = APIKeyRole(rawValue: stored.role), role != .authorizer else { return nil }
    guard now - stored.lastSeen < configuration.idleTimeout, now - stored.createdAt < configuration.absoluteTimeout
    else {
      try await deleteDashboardSession(token: token)
      return nil
    }
    if now - stored.lastSeen >= 60 {
      try await database.transaction { db in
        try await db.raw("UPDATE dashboard_sessions SET last_seen = \(bind: now) WHERE id_hash = \(bind: hash)").run()
      }
    }
    return DashboardSession(
      tenant: stored.tenant, role: role, keyID: stored.keyID,
      csrfToken: DashboardSession.csrfToken(forSession: token))
  }

  func deleteDashboardSession(token: String) async throws {
    guard DashboardSession.isWellFormedToken(token) else { return }
    let hash = APIKey.hash(token)
    try await database.transaction { db in
      try await db.raw("DELETE FROM dashboard_sessions WHERE id_hash = \(bind: hash)").run()
    }
  }

  /// The number of sessions stored for a tenant (tests check the bound).
  func dashboardSessionCount(tenant: String) async throws -> Int {
    try await database.read { db in
      try await db.raw("SELECT COUNT(*) AS count FROM dashboard_sessions WHERE tenant = \(bind: tenant)").first()?
        .decode(column: "count", as: Int.self) ?? 0
    }
  }
}
