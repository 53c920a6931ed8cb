import Crypto
import Foundation
import SQLKit

/// The public keys an authorizer instance registers with `PUT /v1/authorizers/{instance}`
/// (SPEC section 7): `{"signing": <public ES256 JWK>, "agreement": "<base64 X25519 key>"}`.
/// The signing key verifies the JWTs it mints (published at `/.well-known/jwks.json`); secrets
/// are sealed to the agreement key with HPKE.
public struct AuthorizerKeys: Codable, Sendable, Equatable {
  /// The JWK's members, exactly `kty` EC, `crv` P-256, `x`, `y` (base64url of 32 bytes each, a
  /// point on the curve), `kid` (1-128 visible ASCII characters), `alg` ES256 and `use` sig.
  /// Anything else (a private `d`, `key_ops`) is refused.
  public var signing: [String: String]
  /// Base64 of the raw 32-byte X25519 public key.
  public var agreement: String

  public init(signing: [String: String], agreement: String) {
    self.signing = signing
    self.agreement = agreement
  }

  public var kid: String { signing["kid"] ?? "" }

  static let jwkMembers: Set<String> = ["kty", "crv", "x", "y", "kid", "alg", "use"]
  static let requiredValues: [(String, String)] = [("kty", "EC"), ("crv", "P-256"), ("alg", "ES256"), ("use", "sig")]

  /// Every problem, named `keys.signing.x`, `keys.agreement`, ….
  var problems: [ControlPlaneError.FieldProblem] {
    var problems: [ControlPlaneError.FieldProblem] = []
    func add(_ field: String, _ message: String) { problems.append(.init(field: "keys.\(field)", message: message)) }
    for name in signing.keys.sorted() where !Self.jwkMembers.contains(name) {
      let shown = name.utf8.count <= 32 ? name : String(name.prefix(32)) + "…"
      add(
        "signing.\(shown)",
        name == "d"
          ? "must not be sent: register the public key only" : "is not a member of a public ES256 signing JWK")
    }
    for (name, value) in Self.requiredValues where signing[name] != value {
      add("signing.\(name)", signing[name] == nil ? "is required (\(value))" : "must be \(value)")
    }
    var coordinates: [UInt8] = []
    for name in ["x", "y"] {
      guard let text = signing[name] else {
        add("signing.\(name)", "is required (base64url of the 32-byte coordinate)")
        continue
      }
      guard let bytes = Self.base64URL(text), bytes.count == 32 else {
        add("signing.\(name)", "must be base64url (no padding) of exactly 32 bytes")
        continue
      }
      coordinates += bytes
    }
    if coordinates.count == 64, (try? P256.Signing.PublicKey(rawRepresentation: coordinates)) == nil {
      add("signing", "x and y are not a point on P-256")
    }
    if let kid = signing["kid"] {
      if !Self.isValidKid(kid) { add("signing.kid", "must be 1-128 visible ASCII characters") }
    } else {
      add("signing.kid", "is required")
    }
    if agreement.utf8.count > 64 {
      add("agreement", "must be base64 of the raw 32-byte X25519 public key")
    } else if let bytes = Data(base64Encoded: agreement), bytes.count == 32 {
      if (try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: bytes)) == nil {
        add("agreement", "is not an X25519 public key")
      }
    } else {
      add("agreement", "must be base64 of the raw 32-byte X25519 public key")
    }
    return problems
  }

  static func isValidKid(_ kid: String) -> Bool {
    (1...128).contains(kid.utf8.count) && kid.utf8.allSatisfy { (0x21...0x7E).contains($0) }
  }

  /// Strict base64url without padding; nil for anything else.
  static func base64URL(_ text: String) -> [UInt8]? {
    guard text.utf8.count <= 128,
      text.utf8.allSatisfy({ byte in
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
          || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
          || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
          || byte == UInt8(ascii: "_")
      })
    else { return nil }
    return AuditCursor.decodeBase64URL(text)
  }

  /// The agreement key as swift-crypto's type (validated on registration).
  var agreementKey: Curve25519.KeyAgreement.PublicKey? {
    guard let bytes = Data(base64Encoded: agreement), bytes.count == 32 else { return nil }
    return try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: bytes)
  }
}

/// `GET /.well-known/jwks.json`.
public struct JSONWebKeySet: Codable, Sendable, Equatable {
  public var keys: [[String: String]]
}

/// One secret sealed to an authorizer's agreement key.
public struct SealedSecret: Codable, Sendable, Equatable {
  public var name: String
  public var updated: Date
  /// HPKE's encapsulated key (base64).
  public var encapsulatedKey: String
  /// HPKE's ciphertext with its tag (base64).
  public var ciphertext: String

  enum CodingKeys: String, CodingKey { case name, updated, encapsulatedKey, ciphertext }

  public init(name: String, updated: Date, encapsulatedKey: String, ciphertext: String) {
    self.name = name
    self.updated = updated
    self.encapsulatedKey = encapsulatedKey
    self.ciphertext = ciphertext
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    name = try container.decode(String.self, forKey: .name)
    updated = try container.decode(RFC3339Time.self, forKey: .updated).wrappedValue
    encapsulatedKey = try container.decode(String.self, forKey: .encapsulatedKey)
    ciphertext = try container.decode(String.self, forKey: .ciphertext)
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(name, forKey: .name)
    try container.encode(RFC3339.string(updated), forKey: .updated)
    try container.encode(encapsulatedKey, forKey: .encapsulatedKey)
    try container.encode(ciphertext, forKey: .ciphertext)
  }
}

/// `GET /v1/authorizers/{instance}/secrets`.
public struct SealedSecrets: Codable, Sendable, Equatable {
  public var secrets: [SealedSecret]
}

extension ControlPlaneStore {
  /// The HPKE ciphersuite and `info` secrets are sealed with; the authorizer opens them with the same.
  public static let secretCiphersuite = HPKE.Ciphersuite.Curve25519_SHA256_ChachaPoly
  public static let secretInfo = Data("remit-secret-v1".utf8)
  /// The most keys `/.well-known/jwks.json` lists.
  public static let maximumPublishedKeys = 10_000
  /// The most plaintext one `GET /v1/authorizers/{instance}/secrets` seals (all secrets together).
  public static let maximumSealedBytes = 32 << 20

  /// The authenticated data of one sealed secret: it does not open as another name or for
  /// another instance.
  public static func secretAuthenticatedData(instance: String, name: String) -> Data {
    Data("remit-secret\u{0}\(instance)\u{0}\(name)".utf8)
  }

  /// Stores (or replaces) the instance's keys inside the report's transaction.
  static func storeAuthorizerKeys(
    _ keys: AuthorizerKeys, tenant: String, instance: String, now: Int64, db: any SQLDatabase
  ) async throws {
    let jwk = try json(keys.signing)
    try await db.raw(
      """
      INSERT INTO authorizer_keys (tenant, instance, kid, signing_jwk, agreement, updated_us)
      VALUES (\(bind: tenant), \(bind: instance), \(bind: keys.kid), \(bind: jwk), \(bind: keys.agreement), \(bind: now))
      ON CONFLICT (tenant, instance) DO UPDATE SET kid = excluded.kid, signing_jwk = excluded.signing_jwk,
      agreement = excluded.agreement, updated_us = excluded.updated_us
      WHERE authorizer_keys.signing_jwk <> excluded.signing_jwk OR authorizer_keys.agreement <> excluded.agreement
      """
    ).run()
  }

  /// The keys an instance registered, or nil.
  static func authorizerKeys(tenant: String, instance: String, db: any SQLDatabase) async throws -> AuthorizerKeys? {
    guard
      let row = try await db.raw(
        "SELECT signing_jwk, agreement FROM authorizer_keys WHERE tenant = \(bind: tenant) AND instance = \(bind: instance)"
      ).first()
    else { return nil }
    let signing = try JSONDecoder().decode(
      [String: String].self, from: Data(try row.decode(column: "signing_jwk", as: String.self).utf8))
    return AuthorizerKeys(signing: signing, agreement: try row.decode(column: "agreement", as: String.self))
  }

  /// The signing keys of every registered (not forgotten) authorizer, one per `kid` (the most
  /// recently registered wins), of one tenant or of all.
  public func publishedSigningKeys(tenant: String?) async throws -> JSONWebKeySet {
    let seenAfter = RFC3339.microseconds(options.now()) - Self.microseconds(options.authorizerForgetAfter)
    let limit = Self.maximumPublishedKeys
    let jwks = try await database.read { db in
      var query: SQLQueryString = """
        SELECT k.kid, k.signing_jwk FROM authorizer_keys k JOIN authorizers a ON a.tenant = k.tenant AND a.id = k.instance
        WHERE a.last_seen_us >= \(bind: seenAfter)
        """
      if let tenant { query += " AND k.tenant = \(bind: tenant)" }
      query += " ORDER BY k.updated_us DESC, k.tenant, k.instance LIMIT \(bind: limit * 4)"
      return try await db.raw(query).all().map {
        (kid: try $0.decode(column: "kid", as: String.self), jwk: try $0.decode(column: "signing_jwk", as: String.self))
      }
    }
    var seen: Set<String> = []
    var keys: [[String: String]] = []
    let decoder = JSONDecoder()
    for row in jwks where keys.count < limit && seen.insert(row.kid).inserted {
      keys.append(try decoder.decode([String: String].self, from: Data(row.jwk.utf8)))
    }
    return JSONWebKeySet(keys: keys)
  }

  /// Every secret of the tenant, each sealed with HPKE to the instance's agreement key.
  public func sealedSecrets(tenant: String, instance: String) async throws -> SealedSecrets {
    if let problem = Self.authorizerIdProblem(instance) {
      throw ControlPlaneError.validation(field: "instance", problem)
    }
    let seenAfter = RFC3339.microseconds(options.now()) - Self.microseconds(options.authorizerForgetAfter)
    let secretsKey = options.secretsKey
    let (keys, rows) = try await database.read { db in
      _ = try await Self.version(tenant: tenant, db: db)
      guard
        try await db.raw(
          """
          SELECT id FROM authorizers WHERE tenant = \(bind: tenant) AND id = \(bind: instance)
          AND last_seen_us >= \(bind: seenAfter)
          """
        ).first() != nil
      else {
        throw ControlPlaneError(
          status: .notFound, code: "authorizer_unknown",
          message:
            "authorizer \(instance) is not registered in this tenant; it registers with PUT /v1/authorizers/\(instance)"
        )
      }
      guard let keys = try await Self.authorizerKeys(tenant: tenant, instance: instance, db: db) else {
        throw ControlPlaneError(
          status: .conflict, code: "authorizer_key_missing",
          message:
            "authorizer \(instance) registered no agreement key; it sends keys.agreement with PUT /v1/authorizers/\(instance)"
        )
      }
      guard secretsKey != nil else { throw Self.secretsDisabled }
      let rows = try await db.raw(
        "SELECT name, sealed, updated_us FROM secrets WHERE tenant = \(bind: tenant) ORDER BY name"
      ).all().map {
        (
          name: try $0.decode(column: "name", as: String.self),
          sealed: try $0.decode(column: "sealed", as: String.self),
          updated: try $0.decode(column: "updated_us", as: Int64.self)
        )
      }
      return (keys, rows)
    }
    guard let secretsKey else { throw Self.secretsDisabled }
    guard let recipient = keys.agreementKey else {
      throw ControlPlaneError(
        status: .conflict, code: "authorizer_key_missing",
        message: "authorizer \(instance)'s agreement key is unusable; it registers a new one with its next report")
    }
    var sealed: [SealedSecret] = []
    var total = 0
    for row in rows {
      var value = try secretsKey.unseal(row.sealed, context: Self.secretContext(tenant: tenant, name: row.name))
      defer { value.withUnsafeMutableBufferPointer { $0.initialize(repeating: 0) } }
      total += value.count
      guard total <= Self.maximumSealedBytes else {
        throw ControlPlaneError(
          status: .conflict, code: "secrets_too_large",
          message: "the tenant's secrets hold more than \(Self.maximumSealedBytes) bytes together; delete unused ones")
      }
      var sender = try HPKE.Sender(recipientKey: recipient, ciphersuite: Self.secretCiphersuite, info: Self.secretInfo)
      let ciphertext = try sender.seal(
        value, authenticating: Self.secretAuthenticatedData(instance: instance, name: row.name))
      sealed.append(
        SealedSecret(
          name: row.name, updated: RFC3339.date(microseconds: row.updated),
          encapsulatedKey: sender.encapsulatedKey.base64EncodedString(), ciphertext: ciphertext.base64EncodedString()))
    }
    return SealedSecrets(secrets: sealed)
  }
}
