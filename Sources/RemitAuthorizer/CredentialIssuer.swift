import Foundation
import JWTKit
import RemitEngine

/// Issues the credential an allowed request gets (SPEC section 7): a JWT signed with the pod's
/// transport key, or a static secret by name. Values go into the decision's headers only: never
/// into a log line, an audit event or an error.
public struct CredentialIssuer: Sendable {
  let broker: CredentialBroker
  let secrets: SecretStore
  /// The JWT `iss`: this authorizer's instance id.
  let issuer: String

  public init(broker: CredentialBroker, secrets: SecretStore, issuer: String) {
    self.broker = broker
    self.secrets = secrets
    self.issuer = issuer
  }

  /// Why a credential could not be issued: the trace says so, the request is denied
  /// `credential_unavailable`.
  public struct Unavailable: Error, Sendable {
    public var detail: String
  }

  /// The credential value for `plan` (without its scheme).
  public func issue(
    _ plan: CredentialPlan, for decision: Decision, snapshot: PolicySnapshot?
  ) async throws(Unavailable) -> String {
    switch plan.kind {
    case .secret(let name):
      guard let value = secrets.value(named: name) else {
        throw Unavailable(detail: "secret \(name) is not available to this authorizer")
      }
      return value
    case .mint(let ttlSeconds):
      guard let signer = broker.signer, let key = broker.key else {
        throw Unavailable(
          detail: "credential brokering is disabled: \(broker.disabledReason?.message ?? "no transport key")")
      }
      let now = Date()
      let trustDomain = Self.trustDomain(of: decision.sourcePrincipal)
      // RFC 8693: `act` is the delegator, its own `act` the delegator before it.
      var actor: ActorClaim?
      for member in decision.chainPath.dropLast() {
        let principal = snapshot?.principal(ofAgent: member, trustDomain: trustDomain) ?? member
        actor = ActorClaim(sub: principal, act: actor)
      }
      let claims = MintedClaims(
        iss: IssuerClaim(value: issuer),
        sub: SubjectClaim(value: decision.sourcePrincipal),
        aud: AudienceClaim(value: [plan.audience]),
        scope: plan.scope,
        txn: decision.chainID,
        act: actor,
        iat: IssuedAtClaim(value: now),
        exp: ExpirationClaim(
          value: now.addingTimeInterval(TimeInterval(min(ttlSeconds, CredentialPlan.maximumMintTTLSeconds)))),
        jti: IDClaim(value: UUID().uuidString.lowercased()))
      do {
        return try await signer.sign(claims, kid: JWKIdentifier(string: key.keyID))
      } catch {
        throw Unavailable(detail: "signing failed: \(type(of: error))")
      }
    }
  }

  /// The caller's trust domain, which its delegators share (the engine allowed the call).
  static func trustDomain(of principal: String) -> String {
    (try? WorkloadIdentity.parse(principal).get())?.trustDomain ?? "cluster.local"
  }
}

/// The claims of a minted credential (SPEC section 7).
struct MintedClaims: JWTPayload, Equatable {
  var iss: IssuerClaim
  var sub: SubjectClaim
  var aud: AudienceClaim
  var scope: String
  var txn: String?
  var act: ActorClaim?
  var iat: IssuedAtClaim
  var exp: ExpirationClaim
  var jti: IDClaim

  func verify(using algorithm: some JWTAlgorithm) async throws {
    try exp.verifyNotExpired()
  }
}

/// RFC 8693 actor claim: who acted, and (nested) on whose behalf that actor was acting.
final class ActorClaim: Codable, Sendable, Equatable {
  let sub: String
  let act: ActorClaim?

  init(sub: String, act: ActorClaim?) {
    self.sub = sub
    self.act = act
  }

  static func == (lhs: ActorClaim, rhs: ActorClaim) -> Bool { lhs.sub == rhs.sub && lhs.act == rhs.act }
}
