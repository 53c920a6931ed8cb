import Foundation
import Hummingbird
import HummingbirdTesting
import SQLKit
import Testing

@testable import RemitControlPlane

@Suite struct SecretTests {
  static let value = "sk_live_do-not-leak-0123456789"

  @Test(arguments: TestBackend.all) func valuesAreWriteOnlyAndEncryptedAtRest(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend, options: .init(secretsKey: .generate()))
    let key = fixture.adminKey
    try await fixture.withAPI { client in
      let put = try await client.send(
        .put, "/v1/secrets/payments-api-key", key: key, json: #"{"value": "\#(Self.value)"}"#)
      #expect(put.status == .noContent, "\(put.text)")
      #expect(!put.text.contains(Self.value))

      let list = try await client.send(.get, "/v1/secrets", key: key)
      #expect(list.status == .ok)
      #expect(try list.decoded([SecretRecord].self).map(\.name) == ["payments-api-key"])
      #expect(!list.text.contains(Self.value))
      #expect(list.text.contains(#""updated":"#))

      // No route returns the value; the raw table holds only the sealed box.
      for path in ["/v1/secrets/payments-api-key", "/v1/policy", "/v1/snapshot"] {
        #expect(!(try await client.send(.get, path, key: key).text.contains(Self.value)), "\(path)")
      }
      let sealed = try await fixture.store.database.read { db in
        try await db.raw("SELECT * FROM secrets").all().map { try $0.decode(column: "sealed", as: String.self) }
      }
      #expect(sealed.count == 1)
      let first = try #require(sealed.first)
      let raw = try #require(Data(base64Encoded: first))
      #expect(!String(decoding: raw, as: UTF8.self).contains(Self.value))
      #expect(!(sealed.first ?? "").contains(Self.value))
      #expect(raw.count == 12 + Self.value.utf8.count + 16)
      // …and opens to the value with the key.
      #expect(try await fixture.store.secretValue(tenant: "default", name: "payments-api-key") == Self.value)

      // A replaced value is a new sealed box; delete removes it.
      #expect(
        try await client.send(.put, "/v1/secrets/payments-api-key", key: key, json: #"{"value": "v2"}"#).status
          == .noContent)
      #expect(try await fixture.store.secretValue(tenant: "default", name: "payments-api-key") == "v2")
      #expect(try await client.send(.delete, "/v1/secrets/payments-api-key", key: key).status == .noContent)
      #expect(try await client.send(.delete, "/v1/secrets/payments-api-key", key: key).status == .notFound)
      #expect(try await client.send(.get, "/v1/secrets", key: key).text == "[]")
    }
  }

  @Test(arguments: TestBackend.all) func aSealedValueOpensOnlyInItsOwnRowAndWithItsKey(_ backend: TestBackend)
    async throws
  {
    let fixture = try await ControlPlaneFixture.make(backend, options: .init(secretsKey: .generate()))
    let store = fixture.store
    try await store.putSecret(tenant: "default", name: "a", value: "alpha")
    try await store.putSecret(tenant: "default", name: "b", value: "beta")
    // Copy a's sealed box into b's row: authenticated data (tenant, name) makes it fail to open.
    try await store.database.transaction { db in
      try await db.raw("UPDATE secrets SET sealed = (SELECT sealed FROM secrets WHERE name = 'a') WHERE name = 'b'")
        .run()
    }
    await #expect(throws: (any Error).self) { try await store.secretValue(tenant: "default", name: "b") }
    let other = ControlPlaneStore(database: store.database, options: .init(secretsKey: .generate()))
    await #expect(throws: (any Error).self) { try await other.secretValue(tenant: "default", name: "a") }
    try await store.close()
  }

  @Test(arguments: TestBackend.all) func withoutAKeySecretWritesAre503(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    try await fixture.withAPI { client in
      let response = try await client.send(
        .put, "/v1/secrets/payments-api-key", key: fixture.adminKey, json: #"{"value": "x"}"#)
      #expect(response.status == .serviceUnavailable)
      #expect(response.errorBody?.error.code == "secrets_disabled")
      #expect(response.errorBody?.error.message.contains("--secrets-key-file") == true)
      #expect(try await client.send(.get, "/v1/secrets", key: fixture.adminKey).text == "[]")
    }
  }

  @Test(arguments: TestBackend.all) func validationRolesAndTenants(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend, options: .init(secretsKey: .generate()))
    let reader = try await fixture.store.issueKey(tenant: "default", role: .reader)
    let authorizer = try await fixture.store.issueKey(tenant: "default", role: .authorizer)
    let acme = try await fixture.store.createTenant("acme")
    let key = fixture.adminKey
    try await fixture.withAPI { client in
      let body = #"{"value": "x"}"#
      for (path, json, field) in [
        ("/v1/secrets/bad%20name", body, "name"), ("/v1/secrets/ok", #"{}"#, "value"),
        ("/v1/secrets/ok", #"{"value": 5}"#, "value"),
        ("/v1/secrets/ok", #"{"value": "\#(String(repeating: "v", count: 65537))"}"#, "value"),
      ] {
        let response = try await client.send(.put, path, key: key, json: json)
        #expect(response.status == .unprocessableContent, "\(path)")
        #expect(response.errorBody?.error.field == field, "\(path)")
      }
      for role in [reader.key, authorizer.key] {
        #expect(try await client.send(.put, "/v1/secrets/s", key: role, json: body).status == .forbidden)
        #expect(try await client.send(.get, "/v1/secrets", key: role).status == .forbidden)
        #expect(try await client.send(.delete, "/v1/secrets/s", key: role).status == .forbidden)
      }
      #expect(try await client.send(.put, "/v1/secrets/acme-only", key: acme.key, json: body).status == .noContent)
      #expect(try await client.send(.get, "/v1/secrets", key: key).text == "[]")
      #expect(try await client.send(.delete, "/v1/secrets/acme-only", key: key).status == .notFound)
      #expect(try await fixture.store.secrets(tenant: "acme").map(\.name) == ["acme-only"])
    }
  }

  @Test func theKeyFileIsCreatedPrivateAndReadBack() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("remit-secrets-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("secrets.key").path
    let created = try SecretsKey.load(fileAt: path)
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    let again = try SecretsKey.load(fileAt: path)
    let sealed = try created.seal(Array("v".utf8), context: "c")
    #expect(try again.unseal(sealed, context: "c") == Array("v".utf8))

    try "not base64!".write(toFile: path, atomically: true, encoding: .utf8)
    #expect(throws: ControlPlaneConfigurationError.self) { try SecretsKey.load(fileAt: path) }
    try Data(count: 16).base64EncodedString().write(toFile: path, atomically: true, encoding: .utf8)
    #expect(throws: ControlPlaneConfigurationError.self) { try SecretsKey.load(fileAt: path) }
  }
}

@Suite struct APIKeyRevocationTests {
  @Test(arguments: TestBackend.all) func revokedKeysStopWorkingAndTheLastAdminKeyStays(_ backend: TestBackend)
    async throws
  {
    let fixture = try await ControlPlaneFixture.make(backend)
    let acme = try await fixture.store.createTenant("acme")
    let reader = try await fixture.store.issueKey(tenant: "default", role: .reader)
    let key = fixture.adminKey
    try await fixture.withAPI { client in
      #expect(try await client.send(.delete, "/v1/api-keys/\(reader.id)", key: reader.key).status == .forbidden)
      #expect(try await client.send(.delete, "/v1/api-keys/\(reader.id)", key: key).status == .noContent)
      #expect(try await client.send(.get, "/v1/agents", key: reader.key).status == .unauthorized)
      #expect(try await client.send(.delete, "/v1/api-keys/\(reader.id)", key: key).status == .notFound)
      // Another tenant's key is not found, and keeps working.
      #expect(try await client.send(.delete, "/v1/api-keys/\(acme.id)", key: key).status == .notFound)
      #expect(try await client.send(.get, "/v1/agents", key: acme.key).status == .ok)

      let keys = try await client.send(.get, "/v1/api-keys", key: key).decoded([APIKeyRecord].self)
      let admin = try #require(keys.first { $0.role == .admin })
      let last = try await client.send(.delete, "/v1/api-keys/\(admin.id)", key: key)
      #expect(last.status == .conflict)
      #expect(last.errorBody?.error.code == "last_admin_key")

      // With a second admin key the first may go, even revoking itself.
      let second = try await client.send(.post, "/v1/api-keys", key: key, json: #"{"role": "admin"}"#).decoded(
        IssuedAPIKey.self)
      #expect(try await client.send(.delete, "/v1/api-keys/\(admin.id)", key: key).status == .noContent)
      #expect(try await client.send(.get, "/v1/agents", key: key).status == .unauthorized)
      #expect(try await client.send(.delete, "/v1/api-keys/\(second.id)", key: second.key).status == .conflict)
    }
  }

  @Test(arguments: TestBackend.all) func concurrentRevocationsNeverRemoveEveryAdminKey(_ backend: TestBackend)
    async throws
  {
    let fixture = try await ControlPlaneFixture.make(backend)
    let store = fixture.store
    var ids = try await store.listKeys(tenant: "default").map(\.id)
    for _ in 0..<3 { ids.append(try await store.issueKey(tenant: "default", role: .admin).id) }
    let revokeAll = ids
    let results = await withTaskGroup(of: Bool.self) { group in
      for id in revokeAll { group.addTask { (try? await store.deleteKey(tenant: "default", id: id)) != nil } }
      return await group.reduce(into: [Bool]()) { $0.append($1) }
    }
    #expect(results.filter { $0 }.count == 3)
    #expect(try await store.listKeys(tenant: "default").count == 1)
    try await store.close()
  }
}
