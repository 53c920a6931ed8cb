import Crypto
import Foundation
import RemitEngine

/// A secret as the control plane delivers it: sealed (HPKE, X25519 + SHA-256 + ChaCha20-Poly1305)
/// to this pod's transport key, bound to the instance and the secret's name.
public struct SealedSecret: Codable, Sendable {
  public var name: String
  public var encapsulatedKey: String
  public var ciphertext: String

  static let info = Data("remit-secret-v1".utf8)

  static func authenticatedData(instance: String, name: String) -> [UInt8] {
    Array("remit-secret\u{0}\(instance)\u{0}\(name)".utf8)
  }

  /// The plaintext, or nil when it was not sealed to `key` for `instance`.
  func open(with key: Curve25519.KeyAgreement.PrivateKey, instance: String) -> String? {
    guard let encapsulated = Data(base64Encoded: encapsulatedKey), let sealed = Data(base64Encoded: ciphertext),
      var recipient = try? HPKE.Recipient(
        privateKey: key, ciphersuite: .Curve25519_SHA256_ChachaPoly, info: Self.info, encapsulatedKey: encapsulated),
      let plaintext = try? recipient.open(
        sealed, authenticating: Self.authenticatedData(instance: instance, name: name))
    else { return nil }
    return String(data: plaintext, encoding: .utf8)
  }
}

extension ControlPlaneClient {
  /// `POST /v1/delegations/hops` within the connection's ledger timeout.
  public func recordHop(_ hop: DelegationHop) async throws(ControlPlaneClientError) -> DelegationRecord {
    let body: [UInt8]
    do {
      body = Array(try JSONEncoder().encode(hop))
    } catch {
      throw ControlPlaneClientError(code: "encode_failed", message: "\(error)")
    }
    let (status, _, response) = try await send(
      .POST, "/v1/delegations/hops", body: body, timeout: connection.ledgerTimeout, client: ledgerClient,
      limit: 64 << 10)
    guard status == 200 else { throw Self.statusError(status, body: response, what: "delegation hop") }
    do {
      return try JSONDecoder().decode(DelegationRecord.self, from: Data(response))
    } catch {
      throw ControlPlaneClientError(code: "ledger_answer_invalid", message: "the ledger's answer does not decode")
    }
  }

  /// `GET /v1/authorizers/{instance}/secrets`: every secret of the tenant, sealed to this pod.
  public func fetchSealedSecrets() async throws(ControlPlaneClientError) -> [SealedSecret] {
    let (status, _, response) = try await send(
      .GET, "/v1/authorizers/\(connection.instanceID)/secrets", body: nil, timeout: connection.requestTimeout)
    guard status == 200 else { throw Self.statusError(status, body: response, what: "secrets") }
    struct Envelope: Decodable { var secrets: [SealedSecret] }
    do {
      return try JSONDecoder().decode(Envelope.self, from: Data(response)).secrets
    } catch {
      throw ControlPlaneClientError(code: "secrets_answer_invalid", message: "the secrets answer does not decode")
    }
  }
}
