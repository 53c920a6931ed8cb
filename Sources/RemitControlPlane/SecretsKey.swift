import Crypto
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The AES-256-GCM key that seals secret values at rest. The key file holds 32 random bytes in
/// base64 on one line (so it fits a Kubernetes Secret); `--secrets-key-file` creates it, mode
/// 0600, when it does not exist.
public struct SecretsKey: Sendable {
  let key: SymmetricKey

  public init(bytes: [UInt8]) throws(ControlPlaneConfigurationError) {
    guard bytes.count == 32 else {
      throw ControlPlaneConfigurationError(
        code: "secrets_key_invalid", message: "the secrets key must be 32 bytes (base64 on one line in the key file)")
    }
    key = SymmetricKey(data: bytes)
  }

  /// A new random key.
  public static func generate() -> SecretsKey {
    SecretsKey(key: SymmetricKey(size: .bits256))
  }

  private init(key: SymmetricKey) { self.key = key }

  /// Reads the key file, creating it (0600, exclusive create) with a new key when it is missing.
  public static func load(fileAt path: String) throws(ControlPlaneConfigurationError) -> SecretsKey {
    if !FileManager.default.fileExists(atPath: path) {
      let fresh = generate()
      let text = fresh.key.withUnsafeBytes { Data($0).base64EncodedString() } + "\n"
      let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
      if descriptor >= 0 {
        let written = text.utf8CString.withUnsafeBufferPointer { buffer in
          write(descriptor, buffer.baseAddress, buffer.count - 1)
        }
        close(descriptor)
        guard written == text.utf8.count else {
          throw ControlPlaneConfigurationError(
            code: "secrets_key_unwritable", message: "could not write the new secrets key file \(path)")
        }
        return fresh
      }
      // Another process created it first: fall through and read theirs.
      guard errno == EEXIST else {
        throw ControlPlaneConfigurationError(
          code: "secrets_key_unwritable",
          message: "could not create the secrets key file \(path); check that its directory exists and is writable")
      }
    }
    guard let data = FileManager.default.contents(atPath: path), data.count <= 1024 else {
      throw ControlPlaneConfigurationError(
        code: "secrets_key_unreadable", message: "could not read the secrets key file \(path)")
    }
    let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    guard let bytes = Data(base64Encoded: text) else {
      throw ControlPlaneConfigurationError(
        code: "secrets_key_invalid",
        message: "the secrets key file \(path) must hold 32 bytes in base64 on one line (delete it to create a new one)"
      )
    }
    return try SecretsKey(bytes: Array(bytes))
  }

  /// The sealed box (nonce, ciphertext, tag) in base64. `context` (tenant and name) is
  /// authenticated, so a sealed value copied to another row does not open.
  func seal(_ value: [UInt8], context: String) throws -> String {
    let box = try AES.GCM.seal(value, using: key, authenticating: Array(context.utf8))
    guard let combined = box.combined else {
      throw ControlPlaneError(status: .internalServerError, code: "secrets_seal_failed", message: "sealing failed")
    }
    return combined.base64EncodedString()
  }

  func unseal(_ sealed: String, context: String) throws -> [UInt8] {
    guard let data = Data(base64Encoded: sealed) else {
      throw ControlPlaneError(
        status: .internalServerError, code: "secret_unreadable", message: "a stored secret is not base64")
    }
    let box = try AES.GCM.SealedBox(combined: data)
    return Array(try AES.GCM.open(box, using: key, authenticating: Array(context.utf8)))
  }
}
