import Synchronization

/// Whether this pod can mint credentials: its transport key, or why there is none (SPEC section
/// 7). Read by `/.well-known/jwks.json`, `/readyz` and `remit_credential_broker_enabled`.
public final class CredentialBroker: Sendable {
  private let state = Mutex<Result<TransportKey, ConfigurationError>?>(nil)

  public init() {}

  func enable(_ key: TransportKey) { state.withLock { $0 = .success(key) } }

  func disable(_ reason: ConfigurationError) { state.withLock { $0 = .failure(reason) } }

  public var key: TransportKey? {
    guard case .success(let key) = state.withLock({ $0 }) else { return nil }
    return key
  }

  public var disabledReason: ConfigurationError? {
    guard case .failure(let reason) = state.withLock({ $0 }) else { return nil }
    return reason
  }
}
