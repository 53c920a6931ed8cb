import Foundation
import RemitEngine
import SQLKit

/// How an authorizer instance is doing, from its last report.
public enum AuthorizerStatus: String, Codable, Sendable, CaseIterable {
  /// Seen within the stale window and on the tenant's current policy version.
  case healthy
  /// Seen within the window but on another (older) version, or none yet.
  case behind
  /// Not seen for the whole window (45 s by default; authorizers report every 15 s).
  case stale
}

/// What an authorizer reports on `PUT /v1/authorizers/{instance}`.
public struct AuthorizerReport: Codable, Sendable, Equatable {
  /// The policy version it enforces, nil before its first snapshot.
  public var policyVersion: String?
  /// When it last applied a snapshot.
  public var lastSync: Date?
  public var remitVersion: String
  /// Its public keys; omitted (or null) leaves the keys it registered before unchanged.
  public var keys: AuthorizerKeys?

  public init(policyVersion: String?, lastSync: Date?, remitVersion: String, keys: AuthorizerKeys? = nil) {
    self.policyVersion = policyVersion
    self.lastSync = lastSync
    self.remitVersion = remitVersion
    self.keys = keys
  }

  enum CodingKeys: String, CodingKey { case policyVersion, lastSync, remitVersion, keys }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    policyVersion = try container.decodeIfPresent(String.self, forKey: .policyVersion)
    lastSync = try container.decodeIfPresent(RFC3339Time.self, forKey: .lastSync)?.wrappedValue
    remitVersion = try container.decode(String.self, forKey: .remitVersion)
    keys = try container.decodeIfPresent(AuthorizerKeys.self, forKey: .keys)
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(policyVersion, forKey: .policyVersion)
    try container.encode(lastSync.map(RFC3339.string), forKey: .lastSync)
    try container.encode(remitVersion, forKey: .remitVersion)
    try container.encodeIfPresent(keys, forKey: .keys)
  }

  var problems: [ControlPlaneError.FieldProblem] {
    var problems: [ControlPlaneError.FieldProblem] = keys?.problems ?? []
    if let policyVersion, !(1...64).contains(policyVersion.utf8.count) {
      problems.append(.init(field: "policyVersion", message: "must be 1 to 64 characters or null"))
    }
    if !(1...64).contains(remitVersion.utf8.count) {
      problems.append(.init(field: "remitVersion", message: "must be 1 to 64 characters"))
    }
    return problems
  }
}

/// A registered authorizer instance as `GET /v1/authorizers` lists it. Times are RFC 3339.
public struct AuthorizerRecord: Codable, Sendable, Equatable {
  public var id: String
  public var policyVersion: String?
  public var lastSync: Date?
  public var lastSeen: Date
  public var registered: Date
  public var remitVersion: String
  public var status: AuthorizerStatus
  /// The public keys it registered, nil before it sent any.
  public var keys: AuthorizerKeys?

  public init(
    id: String, policyVersion: String?, lastSync: Date?, lastSeen: Date, registered: Date, remitVersion: String,
    status: AuthorizerStatus, keys: AuthorizerKeys? = nil
  ) {
    self.keys = keys
    self.id = id
    self.policyVersion = policyVersion
    self.lastSync = lastSync
    self.lastSeen = lastSeen
    self.registered = registered
    self.remitVersion = remitVersion
    self.status = status
  }

  enum CodingKeys: String, CodingKey {
    case id, policyVersion, lastSync, lastSeen, registered, remitVersion, status, keys
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    id = try container.decode(String.self, forKey: .id)
    policyVersion = try container.decodeIfPresent(String.self, forKey: .policyVersion)
    lastSync = try container.decodeIfPresent(RFC3339Time.self, forKey: .lastSync)?.wrappedValue
    lastSeen = try container.decode(RFC3339Time.self, forKey: .lastSeen).wrappedValue
    registered = try container.decode(RFC3339Time.self, forKey: .registered).wrappedValue
    remitVersion = try container.decode(String.self, forKey: .remitVersion)
    status = try container.decode(AuthorizerStatus.self, forKey: .status)
    keys = try container.decodeIfPresent(AuthorizerKeys.self, forKey: .keys)
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(id, forKey: .id)
    try container.encode(policyVersion, forKey: .policyVersion)
    try container.encode(lastSync.map(RFC3339.string), forKey: .lastSync)
    try container.encode(RFC3339.string(lastSeen), forKey: .lastSeen)
    try container.encode(RFC3339.string(registered), forKey: .registered)
    try container.encode(remitVersion, forKey: .remitVersion)
    try container.encode(status, forKey: .status)
    try container.encode(keys, forKey: .keys)
  }
}

extension ControlPlaneStore {
  /// Registered instances per tenant; beyond it a new instance is refused with 409.
  public static let maximumAuthorizersPerTenant = 10_000

  static func microseconds(_ duration: Duration) -> Int64 {
    duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
  }

  /// 1-128 characters of `[A-Za-z0-9._-]`, as `remit serve --instance-id` checks it.
  static func authorizerIdProblem(_ id: String) -> String? { PolicyRules.nameTokenProblem(id) }

  /// Registers the instance on its first report and records every later one (the heartbeat).
  public func reportAuthorizer(tenant: String, id: String, report: AuthorizerReport) async throws -> AuthorizerRecord {
    if let problem = Self.authorizerIdProblem(id) { throw ControlPlaneError.validation(field: "instance", problem) }
    let problems = report.problems
    guard problems.isEmpty else { throw ControlPlaneError.validation(problems) }
    let now = RFC3339.microseconds(options.now())
    let lastSync = report.lastSync.map { RFC3339.microseconds($0) }
    let forgetAfter = options.authorizerForgetAfter
    let forgetBefore = now - Self.microseconds(forgetAfter)
    try await database.transaction { db in
      _ = try await Self.version(tenant: tenant, db: db)
      // Pods get new instance ids on every rollout: forget the ones gone for long, and their keys.
      try await db.raw(
        """
        DELETE FROM authorizer_keys WHERE tenant = \(bind: tenant) AND instance IN
        (SELECT id FROM authorizers WHERE tenant = \(bind: tenant) AND last_seen_us < \(bind: forgetBefore))
        """
      ).run()
      try await db.raw(
        "DELETE FROM authorizers WHERE tenant = \(bind: tenant) AND last_seen_us < \(bind: forgetBefore)"
      ).run()
      let known = try await db.raw("SELECT id FROM authorizers WHERE tenant = \(bind: tenant) AND id = \(bind: id)")
        .first()
      if known == nil {
        let count =
          try await db.raw("SELECT COUNT(*) AS count FROM authorizers WHERE tenant = \(bind: tenant)").first()?
          .decode(column: "count", as: Int.self) ?? 0
        if count >= Self.maximumAuthorizersPerTenant {
          throw ControlPlaneError(
            status: .conflict, code: "too_many_authorizers",
            message:
              "the tenant already has \(Self.maximumAuthorizersPerTenant) registered authorizers; instances not seen for \(forgetAfter) are forgotten"
          )
        }
      }
      try await db.raw(
        """
        INSERT INTO authorizers (tenant, id, policy_version, last_sync_us, last_seen_us, registered_us, remit_version)
        VALUES (\(bind: tenant), \(bind: id), \(bind: report.policyVersion), \(bind: lastSync), \(bind: now),
        \(bind: now), \(bind: report.remitVersion))
        ON CONFLICT (tenant, id) DO UPDATE SET policy_version = excluded.policy_version,
        last_sync_us = excluded.last_sync_us, last_seen_us = excluded.last_seen_us,
        remit_version = excluded.remit_version
        """
      ).run()
      if let keys = report.keys {
        try await Self.storeAuthorizerKeys(keys, tenant: tenant, instance: id, now: now, db: db)
      }
    }
    let records = try await authorizers(tenant: tenant, id: id)
    guard let record = records.first else { throw ControlPlaneError.notFound("authorizer \(id)") }
    return record
  }

  /// The tenant's authorizers by id, each with its status now.
  public func authorizers(tenant: String) async throws -> [AuthorizerRecord] {
    try await authorizers(tenant: tenant, id: nil)
  }

  func authorizers(tenant: String, id: String?) async throws -> [AuthorizerRecord] {
    let (version, rows) = try await database.read { db in
      let version = try await Self.version(tenant: tenant, db: db)
      var query: SQLQueryString = """
        SELECT a.*, k.signing_jwk, k.agreement FROM authorizers a
        LEFT JOIN authorizer_keys k ON k.tenant = a.tenant AND k.instance = a.id WHERE a.tenant = \(bind: tenant)
        """
      if let id { query += " AND a.id = \(bind: id)" }
      query += " ORDER BY a.id"
      let decoder = JSONDecoder()
      let rows = try await db.raw(query).all().map { row in
        var keys: AuthorizerKeys?
        if let jwk = try row.decode(column: "signing_jwk", as: String?.self),
          let agreement = try row.decode(column: "agreement", as: String?.self)
        {
          keys = AuthorizerKeys(
            signing: try decoder.decode([String: String].self, from: Data(jwk.utf8)), agreement: agreement)
        }
        return (
          id: try row.decode(column: "id", as: String.self),
          policyVersion: try row.decode(column: "policy_version", as: String?.self),
          lastSync: try row.decode(column: "last_sync_us", as: Int64?.self),
          lastSeen: try row.decode(column: "last_seen_us", as: Int64.self),
          registered: try row.decode(column: "registered_us", as: Int64.self),
          remitVersion: try row.decode(column: "remit_version", as: String.self),
          keys: keys
        )
      }
      return (version, rows)
    }
    let now = RFC3339.microseconds(options.now())
    let windowMicroseconds = Self.microseconds(options.authorizerStaleAfter)
    return rows.map { row in
      let status: AuthorizerStatus =
        now - row.lastSeen >= windowMicroseconds
        ? .stale : (row.policyVersion == String(version) ? .healthy : .behind)
      return AuthorizerRecord(
        id: row.id, policyVersion: row.policyVersion, lastSync: row.lastSync.map(RFC3339.date(microseconds:)),
        lastSeen: RFC3339.date(microseconds: row.lastSeen), registered: RFC3339.date(microseconds: row.registered),
        remitVersion: row.remitVersion, status: status, keys: row.keys)
    }
  }
}
