import Foundation
import Testing

@testable import RemitAuthorizer

@Suite struct TransportKeyTests {
  func temporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("remit-key-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  @Test func theKeyIsCreatedOwnerOnlyAndReusedAfterARestart() throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let first = try TransportKey.loadOrCreate(directory: directory)
    let path = directory + "/" + TransportKey.fileName
    let permissions = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber
    #expect(permissions?.intValue == 0o600)
    let second = try TransportKey.loadOrCreate(directory: directory)
    #expect(second.keyID == first.keyID)
    #expect(second.agreement.publicKey.rawRepresentation == first.agreement.publicKey.rawRepresentation)
    let other = try TransportKey.loadOrCreate(directory: try temporaryDirectory())
    #expect(other.keyID != first.keyID)
  }

  @Test func aCorruptOrUnwritableKeyIsAnErrorNotANewKey() throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try "{}".write(toFile: directory + "/" + TransportKey.fileName, atomically: true, encoding: .utf8)
    #expect(throws: ConfigurationError.self) { try TransportKey.loadOrCreate(directory: directory) }
    #expect(throws: ConfigurationError.self) { try TransportKey.loadOrCreate(directory: "/dev/null/remit") }
  }

  @Test func theJWKSCarriesThePublicSigningKeyOnly() throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let key = try TransportKey.loadOrCreate(directory: directory)
    let json = try #require(
      try JSONSerialization.jsonObject(with: JSONEncoder().encode(key.jwks)) as? [String: Any])
    let keys = try #require(json["keys"] as? [[String: Any]])
    #expect(keys.count == 1)
    #expect(keys[0]["kty"] as? String == "EC")
    #expect(keys[0]["crv"] as? String == "P-256")
    #expect(keys[0]["alg"] as? String == "ES256")
    #expect(keys[0]["kid"] as? String == key.keyID)
    #expect(keys[0]["d"] == nil, "never the private key")
  }
}
