import Crypto
import Foundation
import Hummingbird
import HummingbirdTesting
import SQLKit
import Testing

@testable import RemitControlPlane

/// Authorizer public keys (`keys` on `PUT /v1/authorizers/{instance}`), the JWKS and sealed secrets.
@Suite struct AuthorizerKeyTests {
  /// An authorizer's key pair, as its transport key file would hold them.
  struct TransportKeys {
    let signing = P256.Signing.PrivateKey()
    let agreement = Curve25519.KeyAgreement.PrivateKey()
    let kid: String

    init(kid: String) { self.kid = kid }

    var jwk: [String: String] {
      let raw = Array(signing.publicKey.rawRepresentation)
      return [
        "kty": "EC", "crv": "P-256", "x": APIKey.base64URL(Array(raw[0..<32])),
        "y": APIKey.base64URL(Array(raw[32..<64])), "kid": kid, "alg": "ES256", "use": "sig",
      ]
    }

    var agreementBase64: String { agreement.publicKey.rawRepresentation.base64EncodedString() }

    func report(jwk: [String: String]? = nil, agreement: String? = nil) throws -> String {
      let keys: [String: Any] = ["signing": jwk ?? self.jwk, "agreement": agreement ?? agreementBase64]
      let body: [String: Any] = ["policyVersion": "1", "remitVersion": "0.1.0", "keys": keys]
      return String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
    }
  }

  static let plainReport = #"{"policyVersion": "1", "remitVersion": "0.1.0"}"#

  @Test(arguments: TestBackend.all) func keysAreValidatedStrictly(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    let keys = TransportKeys(kid: "authz-0-2026")
    try await fixture.withAPI { client in
      var cases: [([String: String]?, String?, String)] = []
      func jwk(_ change: (inout [String: String]) -> Void) -> [String: String] {
        var value = keys.jwk
        change(&value)
        return value
      }
      cases.append((jwk { $0["kty"] = "RSA" }, nil, "keys.signing.kty"))
      cases.append((jwk { $0["crv"] = "P-384" }, nil, "keys.signing.crv"))
      cases.append((jwk { $0["alg"] = "EdDSA" }, nil, "keys.signing.alg"))
      cases.append((jwk { $0["use"] = "enc" }, nil, "keys.signing.use"))
      cases.append((jwk { $0["x"] = nil }, nil, "keys.signing.x"))
      cases.append((jwk { $0["y"] = "AAAA" }, nil, "keys.signing.y"))
      cases.append((jwk { $0["x"] = (keys.jwk["x"] ?? "") + "=" }, nil, "keys.signing.x"))
      cases.append((jwk { $0["x"] = String(repeating: "A", count: 43) }, nil, "keys.signing"))
      cases.append((jwk { $0["kid"] = "" }, nil, "keys.signing.kid"))
      cases.append((jwk { $0["kid"] = String(repeating: "k", count: 129) }, nil, "keys.signing.kid"))
      cases.append((jwk { $0["kid"] = "has space" }, nil, "keys.signing.kid"))
      cases.append((jwk { $0["d"] = "c2VjcmV0" }, nil, "keys.signing.d"))
      cases.append((jwk { $0["key_ops"] = "sign" }, nil, "keys.signing.key_ops"))
      cases.append((nil, "AAAA", "keys.agreement"))
      cases.append((nil, Data(repeating: 1, count: 31).base64EncodedString(), "keys.agreement"))
      cases.append((nil, APIKey.base64URL(Array(repeating: 0xFB, count: 32)), "keys.agreement"))
      for (signing, agreement, field) in cases {
        let response = try await client.send(
          .put, "/v1/authorizers/authz-0", key: fixture.adminKey,
          json: try keys.report(jwk: signing, agreement: agreement))
        #expect(response.status == .unprocessableContent, "\(field): \(response.text)")
        #expect(response.errors.contains(field), "\(field): \(response.text)")
        #expect(!response.text.contains("c2VjcmV0"))
      }
      let wrongType = try await client.send(
        .put, "/v1/authorizers/authz-0", key: fixture.adminKey,
        json: #"{"remitVersion": "1", "keys": {"signing": {"kty": 1}, "agreement": "x"}}"#)
      #expect(wrongType.status == .unprocessableContent)
      #expect(try await fixture.store.authorizers(tenant: "default").isEmpty)

      let good = try await client.send(
        .put, "/v1/authorizers/authz-0", key: fixture.adminKey, json: try keys.report())
      #expect(good.status == .ok, "\(good.text)")
      let record = try good.decoded(AuthorizerRecord.self)
      #expect(record.keys == AuthorizerKeys(signing: keys.jwk, agreement: keys.agreementBase64))
      // A heartbeat without keys keeps them; a report with new keys replaces them.
      let heartbeat = try await client.send(
        .put, "/v1/authorizers/authz-0", key: fixture.adminKey, json: Self.plainReport)
      #expect(try heartbeat.decoded(AuthorizerRecord.self).keys?.kid == "authz-0-2026")
      let rotated = TransportKeys(kid: "authz-0-2027")
      let replaced = try await client.send(
        .put, "/v1/authorizers/authz-0", key: fixture.adminKey, json: try rotated.report())
      #expect(try replaced.decoded(AuthorizerRecord.self).keys?.kid == "authz-0-2027")
      let listed = try await client.send(.get, "/v1/authorizers", key: fixture.adminKey)
        .decoded([AuthorizerRecord].self)
      #expect(listed.first?.keys?.agreement == rotated.agreementBase64)
    }
  }

  @Test(arguments: TestBackend.all) func theJWKSPublishesSigningKeysOfRegisteredAuthorizers(_ backend: TestBackend)
    async throws
  {
    let clock = TestClock()
    let fixture = try await ControlPlaneFixture.make(backend, options: .init(now: { clock.now() }))
    let acme = try await fixture.store.createTenant("acme")
    let a = TransportKeys(kid: "kid-a")
    let b = TransportKeys(kid: "kid-b")
    let c = TransportKeys(kid: "kid-c")
    try await fixture.withAPI { client in
      let empty = try await client.send(.get, "/.well-known/jwks.json", key: nil)
      #expect(empty.status == .ok)
      #expect(empty.text == #"{"keys":[]}"#)
      #expect(empty.headers[.cacheControl] == "public, max-age=60")

      #expect(
        try await client.send(.put, "/v1/authorizers/a-1", key: fixture.adminKey, json: try a.report()).status == .ok)
      // A second replica sharing a's key: listed once.
      #expect(
        try await client.send(.put, "/v1/authorizers/a-2", key: fixture.adminKey, json: try a.report()).status == .ok)
      #expect(
        try await client.send(.put, "/v1/authorizers/b-1", key: fixture.adminKey, json: Self.plainReport).status == .ok)
      #expect(
        try await client.send(.put, "/v1/authorizers/b-1", key: fixture.adminKey, json: try b.report()).status == .ok)
      #expect(try await client.send(.put, "/v1/authorizers/c-1", key: acme.key, json: try c.report()).status == .ok)

      let all = try await client.send(.get, "/.well-known/jwks.json", key: nil).decoded(JSONWebKeySet.self)
      #expect(Set(all.keys.compactMap { $0["kid"] }) == ["kid-a", "kid-b", "kid-c"])
      #expect(all.keys.count == 3)
      #expect(all.keys.contains(a.jwk))
      #expect(all.keys.allSatisfy { $0["d"] == nil })
      let acmeOnly = try await client.send(.get, "/.well-known/jwks.json?tenant=acme", key: nil)
        .decoded(JSONWebKeySet.self)
      #expect(acmeOnly.keys == [c.jwk])
      #expect(
        try await client.send(.get, "/.well-known/jwks.json?tenant=nobody", key: nil).text == #"{"keys":[]}"#)
      #expect(
        try await client.send(.get, "/.well-known/jwks.json?tenant=bad%20id", key: nil).status
          == .unprocessableContent)

      // An instance not seen for a week is no longer published, and its keys go when it is
      // forgotten (on the tenant's next report: here b-1's own, which registers it again).
      clock.advance(seconds: 7 * 24 * 3600 + 1)
      #expect(try await client.send(.get, "/.well-known/jwks.json", key: nil).text == #"{"keys":[]}"#)
      #expect(
        try await client.send(.put, "/v1/authorizers/b-1", key: fixture.adminKey, json: try b.report()).status == .ok)
      let remaining = try await fixture.store.database.read { db in
        try await db.raw("SELECT instance FROM authorizer_keys WHERE tenant = 'default' ORDER BY instance").all()
          .map { try $0.decode(column: "instance", as: String.self) }
      }
      #expect(remaining == ["b-1"])
      let published = try await client.send(.get, "/.well-known/jwks.json", key: nil).decoded(JSONWebKeySet.self)
      #expect(published.keys == [b.jwk])
    }
  }

  @Test(arguments: TestBackend.all) func secretsAreSealedToTheInstanceAgreementKey(_ backend: TestBackend) async throws
  {
    let fixture = try await ControlPlaneFixture.make(backend, options: .init(secretsKey: .generate()))
    let authorizer = try await fixture.store.issueKey(tenant: "default", role: .authorizer)
    let reader = try await fixture.store.issueKey(tenant: "default", role: .reader)
    let acme = try await fixture.store.createTenant("acme")
    let keys = TransportKeys(kid: "kid-1")
    let value = "sk_live_sealed-0123456789"
    try await fixture.store.putSecret(tenant: "default", name: "payments-api-key", value: value)
    try await fixture.store.putSecret(tenant: "default", name: "search-token", value: "tok-2")
    try await fixture.withAPI { client in
      let unknown = try await client.send(.get, "/v1/authorizers/authz-0/secrets", key: authorizer.key)
      #expect(unknown.status == .notFound)
      #expect(unknown.errorBody?.error.code == "authorizer_unknown")
      #expect(
        try await client.send(.put, "/v1/authorizers/authz-0", key: authorizer.key, json: Self.plainReport).status
          == .ok)
      let missing = try await client.send(.get, "/v1/authorizers/authz-0/secrets", key: authorizer.key)
      #expect(missing.status == .conflict)
      #expect(missing.errorBody?.error.code == "authorizer_key_missing")
      #expect(
        try await client.send(.put, "/v1/authorizers/authz-0", key: authorizer.key, json: try keys.report()).status
          == .ok)
      #expect(try await client.send(.get, "/v1/authorizers/authz-0/secrets", key: reader.key).status == .forbidden)
      #expect(try await client.send(.get, "/v1/authorizers/authz-0/secrets", key: acme.key).status == .notFound)

      let response = try await client.send(.get, "/v1/authorizers/authz-0/secrets", key: authorizer.key)
      #expect(response.status == .ok, "\(response.text)")
      #expect(!response.text.contains(value))
      #expect(response.headers[.cacheControl] == "no-store")
      let sealed = try response.decoded(SealedSecrets.self).secrets
      #expect(sealed.map(\.name) == ["payments-api-key", "search-token"])
      let first = try #require(sealed.first)
      func open(_ secret: SealedSecret, with key: Curve25519.KeyAgreement.PrivateKey, instance: String = "authz-0")
        throws -> String
      {
        var recipient = try HPKE.Recipient(
          privateKey: key, ciphersuite: .Curve25519_SHA256_ChachaPoly, info: Data("remit-secret-v1".utf8),
          encapsulatedKey: try #require(Data(base64Encoded: secret.encapsulatedKey)))
        let plaintext = try recipient.open(
          try #require(Data(base64Encoded: secret.ciphertext)),
          authenticating: Data("remit-secret\u{0}\(instance)\u{0}\(secret.name)".utf8))
        return String(decoding: plaintext, as: UTF8.self)
      }
      #expect(try open(first, with: keys.agreement) == value)
      #expect(try open(sealed[1], with: keys.agreement) == "tok-2")
      // Another key cannot open it, nor can the right key for another instance or name.
      #expect(throws: (any Error).self) { try open(first, with: Curve25519.KeyAgreement.PrivateKey()) }
      #expect(throws: (any Error).self) { try open(first, with: keys.agreement, instance: "authz-1") }
      var renamed = first
      renamed.name = "search-token"
      #expect(throws: (any Error).self) { try open(renamed, with: keys.agreement) }
    }
  }

  @Test(arguments: TestBackend.all) func withoutASecretsKeySealedSecretsAre503(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    let keys = TransportKeys(kid: "kid-1")
    try await fixture.withAPI { client in
      #expect(
        try await client.send(.put, "/v1/authorizers/authz-0", key: fixture.adminKey, json: try keys.report()).status
          == .ok)
      let response = try await client.send(.get, "/v1/authorizers/authz-0/secrets", key: fixture.adminKey)
      #expect(response.status == .serviceUnavailable)
      #expect(response.errorBody?.error.code == "secrets_disabled")
    }
  }
}

extension TestResponse {
  /// The fields of every problem of a 422.
  var errors: [String] { errorBody?.errors?.map(\.field) ?? [] }
}
