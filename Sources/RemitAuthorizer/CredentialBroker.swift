import JWTKit
import Synchronization

/// Whether this pod can mint credentials: its transport key, or why there is none (SPEC section
/// 7). Read by `/.well-known/jwks.json`, `/readyz`, `remit_credential_broker_enabled` and the
/// credential issuer.
public final class CredentialBroker: Sendable {
  private struct Enabled {
    var key: TransportKey
    var signer: JWTKeyCollection
  }

  private let state = Mutex<Result<Enabled, ConfigurationError>?>(nil)

  public init() {}

  func enable(_ key: TransportKey) async throws {
    let signer = JWTKeyCollection()
    await signer.add(ecdsa: try ES256PrivateKey(backing: key.signing), kid: JWKIdentifier(string: key.keyID))
    state.withLock { $0 = .success(Enabled(key: key, signer: signer)) }
  }

  func disable(_ reason: ConfigurationError) { state.withLock { $0 = .failure(reason) } }

  public var key: TransportKey? {
    guard case .success(let enabled) = state.withLock({ $0 }) else { return nil }
    return enabled.key
  }

  /// Signs with the transport key (ES256, `kid` its RFC 7638 thumbprint).
  var signer: JWTKeyCollection? {
    guard case .success(let enabled) = state.withLock({ $0 }) else { return nil }
    return enabled.signer
  }

  public var disabledReason: ConfigurationError? {
    guard case .failure(let reason) = state.withLock({ $0 }) else { return nil }
    return reason
  }
}
