import Foundation
import RemitEngine
import SQLKit

/// A secret as listed: its name and when it was last written, never its value.
public struct SecretRecord: Codable, Sendable, Equatable {
  public var name: String
  public var updated: Date

  public init(name: String, updated: Date) {
    self.name = name
    self.updated = updated
  }

  enum CodingKeys: String, CodingKey { case name, updated }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    name = try container.decode(String.self, forKey: .name)
    updated = try container.decode(RFC3339Time.self, forKey: .updated).wrappedValue
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(name, forKey: .name)
    try container.encode(RFC3339.string(updated), forKey: .updated)
  }
}

extension ControlPlaneStore {
  public static let maximumSecretBytes = 64 << 10
  public static let maximumSecretsPerTenant = 10_000

  static let secretsDisabled = ControlPlaneError(
    status: .serviceUnavailable, code: "secrets_disabled",
    message:
      "secrets are disabled: start remit control-plane with --secrets-key-file PATH (or REMIT_SECRETS_KEY_FILE); the file is created with a new key when missing"
  )

  /// 1-128 characters of `[A-Za-z0-9._-]`, as policies name them (`secret: {name: payments-api-key}`).
  static func secretNameProblem(_ name: String) -> String? {
    PolicyRules.nameTokenProblem(name)
  }

  /// Stores the value sealed with AES-GCM under the secrets key; replaces an existing one.
  public func putSecret(tenant: String, name: String, value: String) async throws {
    if let problem = Self.secretNameProblem(name) { throw ControlPlaneError.validation(field: "name", problem) }
    guard value.utf8.count <= Self.maximumSecretBytes else {
      throw ControlPlaneError.validation(field: "value", "must be at most \(Self.maximumSecretBytes) bytes")
    }
    guard let key = options.secretsKey else { throw Self.secretsDisabled }
    let sealed = try key.seal(Array(value.utf8), context: Self.secretContext(tenant: tenant, name: name))
    let now = RFC3339.microseconds(options.now())
    try await database.transaction { db in
      _ = try await Self.version(tenant: tenant, db: db)
      let exists = try await db.raw("SELECT name FROM secrets WHERE tenant = \(bind: tenant) AND name = \(bind: name)")
        .first()
      if exists == nil {
        let count =
          try await db.raw("SELECT COUNT(*) AS count FROM secrets WHERE tenant = \(bind: tenant)").first()?
          .decode(column: "count", as: Int.self) ?? 0
        guard count < Self.maximumSecretsPerTenant else {
          throw ControlPlaneError(
            status: .conflict, code: "too_many_secrets",
            message: "the tenant already has \(Self.maximumSecretsPerTenant) secrets; delete unused ones first")
        }
      }
      try await db.raw(
        """
        INSERT INTO secrets (tenant, name, sealed, updated_us) VALUES (\(bind: tenant), \(bind: name), \(bind: sealed), \(bind: now))
        ON CONFLICT (tenant, name) DO UPDATE SET sealed = excluded.sealed, updated_us = excluded.updated_us
        """
      ).run()
    }
  }

  /// Names and update times, by name.
  public func secrets(tenant: String) async throws -> [SecretRecord] {
    try await database.read { db in
      _ = try await Self.version(tenant: tenant, db: db)
      return try await db.raw("SELECT name, updated_us FROM secrets WHERE tenant = \(bind: tenant) ORDER BY name").all()
        .map { row in
          SecretRecord(
            name: try row.decode(column: "name", as: String.self),
            updated: RFC3339.date(microseconds: try row.decode(column: "updated_us", as: Int64.self)))
        }
    }
  }

  /// Deletes a secret; 404 when the tenant has none by that name. Needs no key.
  public func deleteSecret(tenant: String, name: String) async throws {
    try await database.transaction { db in
      guard
        try await db.raw("SELECT name FROM secrets WHERE tenant = \(bind: tenant) AND name = \(bind: name)").first()
          != nil
      else { throw ControlPlaneError.notFound("secret \(name)") }
      try await db.raw("DELETE FROM secrets WHERE tenant = \(bind: tenant) AND name = \(bind: name)").run()
    }
  }

  /// The plaintext, for credential brokering inside the control plane. No route returns it.
  func secretValue(tenant: String, name: String) async throws -> String {
    guard let key = options.secretsKey else { throw Self.secretsDisabled }
    let sealed = try await database.read { db in
      try await db.raw("SELECT sealed FROM secrets WHERE tenant = \(bind: tenant) AND name = \(bind: name)").first()?
        .decode(column: "sealed", as: String.self)
    }
    guard let sealed else { throw ControlPlaneError.notFound("secret \(name)") }
    let bytes = try key.unseal(sealed, context: Self.secretContext(tenant: tenant, name: name))
    return String(decoding: bytes, as: UTF8.self)
  }

  static func secretContext(tenant: String, name: String) -> String { "remit-secret\u{0}\(tenant)\u{0}\(name)" }

  // MARK: API key revocation

  /// Revokes a key of the tenant: 404 when it has no key with that id, 409 `last_admin_key` when
  /// it is the tenant's last admin key (the tenant would be locked out).
  public func deleteKey(tenant: String, id: String) async throws {
    try await database.transaction { db in
      // Takes the tenant's row lock (PostgreSQL) so two revocations cannot both pass the check.
      try await db.raw("UPDATE policy_versions SET version = version WHERE tenant = \(bind: tenant)").run()
      guard
        let row = try await db.raw("SELECT role FROM api_keys WHERE tenant = \(bind: tenant) AND id = \(bind: id)")
          .first()
      else { throw ControlPlaneError.notFound("API key \(id)") }
      if try row.decode(column: "role", as: String.self) == APIKeyRole.admin.rawValue {
        let admins =
          try await db.raw(
            "SELECT COUNT(*) AS count FROM api_keys WHERE tenant = \(bind: tenant) AND role = \(bind: APIKeyRole.admin.rawValue)"
          ).first()?.decode(column: "count", as: Int.self) ?? 0
        guard admins > 1 else {
          throw ControlPlaneError(
            status: .conflict, code: "last_admin_key",
            message: "\(id) is the tenant's last admin key; issue another admin key before revoking it")
        }
      }
      try await db.raw("DELETE FROM api_keys WHERE tenant = \(bind: tenant) AND id = \(bind: id)").run()
    }
  }
}
