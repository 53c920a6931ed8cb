import Crypto
import Foundation
import JWTKit

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// The authorizer pod's own keys (SPEC section 7): a P-256 signing key for the credentials it
/// mints and an X25519 key that secrets are sealed to (HPKE). Created on first start in the state
/// directory (`transport-key.json`, 0600) and reused after restarts, so a pod's JWKS stays stable.
public struct TransportKey: Sendable {
  public let signing: P256.Signing.PrivateKey
  public let agreement: Curve25519.KeyAgreement.PrivateKey
  /// The RFC 7638 thumbprint of the signing key: the `kid` of every credential it signs.
  public let keyID: String

  init(signing: P256.Signing.PrivateKey, agreement: Curve25519.KeyAgreement.PrivateKey) {
    self.signing = signing
    self.agreement = agreement
    keyID = Self.thumbprint(signing.publicKey)
  }

  static let fileName = "transport-key.json"

  private struct Stored: Codable {
    var version = 1
    var signingKey: String
    var agreementKey: String
  }

  /// The key in `directory`, or a new one written there. Throws when the directory cannot hold
  /// it (read-only volume): the caller disables brokering and says so.
  public static func loadOrCreate(directory: String) throws(ConfigurationError) -> TransportKey {
    let path = (directory as NSString).appendingPathComponent(fileName)
    if let data = FileManager.default.contents(atPath: path) {
      do {
        // The stored form is about 150 bytes; anything far larger is not ours.
        guard data.count <= 4096 else {
          throw ConfigurationError(code: "transport_key_invalid", message: "larger than 4096 bytes")
        }
        let stored = try JSONDecoder().decode(Stored.self, from: data)
        guard stored.version == 1, let signing = Data(base64Encoded: stored.signingKey),
          let agreement = Data(base64Encoded: stored.agreementKey)
        else { throw ConfigurationError(code: "transport_key_invalid", message: "unknown format") }
        return TransportKey(
          signing: try P256.Signing.PrivateKey(rawRepresentation: signing),
          agreement: try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: agreement))
      } catch {
        throw ConfigurationError(
          code: "transport_key_invalid",
          message: "\(path) is not a Remit transport key (\(error)); move it away to create a new one")
      }
    }
    let key = TransportKey(signing: P256.Signing.PrivateKey(), agreement: Curve25519.KeyAgreement.PrivateKey())
    let stored = Stored(
      signingKey: key.signing.rawRepresentation.base64EncodedString(),
      agreementKey: key.agreement.rawRepresentation.base64EncodedString())
    do {
      try FileManager.default.createDirectory(
        atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
      let temporary = path + ".tmp.\(getpid())"
      guard
        FileManager.default.createFile(
          atPath: temporary, contents: try JSONEncoder().encode(stored), attributes: [.posixPermissions: 0o600])
      else { throw ConfigurationError(code: "transport_key_unwritable", message: "cannot write \(temporary)") }
      guard rename(temporary, path) == 0 else {
        unlink(temporary)
        throw ConfigurationError(code: "transport_key_unwritable", message: "cannot create \(path)")
      }
    } catch let error as ConfigurationError {
      throw error
    } catch {
      throw ConfigurationError(code: "transport_key_unwritable", message: "cannot create \(path): \(error)")
    }
    return key
  }

  /// The public signing key as a JSON Web Key Set, for `/.well-known/jwks.json`.
  public var jwks: JWKS {
    let point = signing.publicKey.x963Representation
    return JWKS(keys: [
      .ecdsa(
        .es256, identifier: JWKIdentifier(string: keyID), x: Self.base64URL(point[1..<33]),
        y: Self.base64URL(point[33..<65]), curve: .p256)
    ])
  }

  /// RFC 7638: SHA-256 over the key's required members in lexicographic order.
  static func thumbprint(_ key: P256.Signing.PublicKey) -> String {
    let point = key.x963Representation
    let canonical =
      #"{"crv":"P-256","kty":"EC","x":""# + base64URL(point[1..<33]) + #"","y":""# + base64URL(point[33..<65]) + #""}"#
    return base64URL(Data(SHA256.hash(data: Data(canonical.utf8))))
  }

  static func base64URL(_ bytes: some DataProtocol) -> String {
    Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
      .replacingOccurrences(of: "=", with: "")
  }
}
