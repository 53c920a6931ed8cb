/// What credential an allowed request gets (SPEC section 7), decided by the engine and issued by
/// the authorizer, which holds the keys and secrets. Carries no credential value.
public struct CredentialPlan: Sendable, Equatable {
  public enum Kind: Sendable, Equatable {
    /// A JWT signed with the pod's transport key, valid this long.
    case mint(ttlSeconds: Int)
    /// A static secret by name.
    case secret(name: String)
  }

  public var kind: Kind
  /// Lower-case header name; the value overwrites whatever the caller sent.
  public var header: String
  /// Put before the value with one space (`Bearer`), when set.
  public var scheme: String?
  /// The destination's SPIFFE ID: the JWT's `aud`.
  public var audience: String
  /// What the call does (tool, resource, prompt, method, route or host): the JWT's `scope`.
  public var scope: String

  public static let defaultMintHeader = "authorization"
  public static let defaultMintTTLSeconds = 60
  public static let maximumMintTTLSeconds = 300

  /// The header a rule injects, lower-cased; nil for a rule with neither form.
  static func header(for rule: PolicyDocument.CredentialRule) -> String? {
    if let mint = rule.mint { return (mint.header ?? defaultMintHeader).lowercased() }
    if let secret = rule.secret { return secret.header.lowercased() }
    return nil
  }

  public init(kind: Kind, header: String, scheme: String?, audience: String, scope: String) {
    self.kind = kind
    self.header = header
    self.scheme = scheme
    self.audience = audience
    self.scope = scope
  }

  init?(rule: PolicyDocument.CredentialRule, audience: String, scope: String) {
    guard let header = Self.header(for: rule) else { return nil }
    self.header = header
    self.audience = audience
    self.scope = scope
    if let mint = rule.mint {
      kind = .mint(ttlSeconds: mint.ttlSeconds ?? Self.defaultMintTTLSeconds)
      scheme = mint.scheme ?? (header == Self.defaultMintHeader ? "Bearer" : nil)
    } else if let secret = rule.secret {
      kind = .secret(name: secret.name)
      scheme = nil
    } else {
      return nil
    }
  }

  /// The header value for a credential.
  public func headerValue(_ credential: String) -> String {
    scheme.map { "\($0) \(credential)" } ?? credential
  }
}

extension Decision {
  /// Sets an issued credential (overwriting) and keeps the caller's copy from being removed
  /// after it is set: Envoy applies `headers_to_remove` after `headers`.
  public mutating func injectCredential(_ plan: CredentialPlan, value: String) {
    headersToSet.removeAll { $0.name == plan.header }
    headersToSet.append((name: plan.header, value: plan.headerValue(value)))
    headersToRemove.removeAll { $0 == plan.header }
  }
}
