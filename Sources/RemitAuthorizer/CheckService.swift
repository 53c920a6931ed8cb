import EnvoyAPI
import Foundation
import GRPCCore
import GRPCProtobuf
import Logging
import RemitEngine
import RemitEnvoy

#if canImport(Glibc)
  import Glibc
#endif

/// `envoy.service.auth.v3.Authorization/Check`: decode, decide, log, encode. Never throws a gRPC
/// error for a policy outcome; an unexpected failure is a deny (`internal_error`).
public struct CheckService: Envoy_Service_Auth_V3_Authorization.SimpleServiceProtocol {
  let store: SnapshotStore
  let engine: DecisionEngine
  let decisionLog: DecisionLog
  let ledger: any DelegationLedger
  let issuer: CredentialIssuer?

  public init(
    store: SnapshotStore, engine: DecisionEngine = DecisionEngine(), decisionLog: DecisionLog,
    ledger: any DelegationLedger = InMemoryDelegationLedger(), issuer: CredentialIssuer? = nil
  ) {
    self.store = store
    self.engine = engine
    self.decisionLog = decisionLog
    self.ledger = ledger
    self.issuer = issuer
  }

  public func check(
    request: Envoy_Service_Auth_V3_CheckRequest,
    context: ServerContext
  ) async throws -> Envoy_Service_Auth_V3_CheckResponse {
    await handle(request)
  }

  /// Check as the server serves it: the request's facts are read straight from its bytes
  /// (GovernedRequestDeserializer), the response is encoded by SwiftProtobuf.
  public func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    router.registerHandler(
      forMethod: Envoy_Service_Auth_V3_Authorization.Method.Check.descriptor,
      deserializer: GovernedRequestDeserializer(),
      serializer: ProtobufSerializer<Envoy_Service_Auth_V3_CheckResponse>(),
      handler: { request, context in
        let request = try await ServerRequest(stream: request)
        let response = await self.handle(request.message)
        return StreamingServerResponse(single: ServerResponse(message: response, metadata: [:]))
      }
    )
  }

  /// The whole in-process path from the generated message, callable without a server.
  public func handle(_ request: Envoy_Service_Auth_V3_CheckRequest) async -> Envoy_Service_Auth_V3_CheckResponse {
    await handle(GovernedRequest(request))
  }

  /// Decide, finish (ledger, credential), encode and log one request.
  public func handle(_ governed: GovernedRequest) async -> Envoy_Service_Auth_V3_CheckResponse {
    let started = ContinuousClock.now
    let decisionID = DecisionID.make()
    // One snapshot for the whole decision, even if a new one is swapped in meanwhile.
    let snapshot = store.current
    var decision = engine.decide(governed, snapshot: snapshot)
    if let snapshot { await finish(&decision, snapshot: snapshot) }
    let response = decision.checkResponse(decisionID: decisionID)
    let elapsed = ContinuousClock.now - started
    decisionLog.record(decision, id: decisionID, latency: elapsed)
    return response
  }

  /// What the engine leaves to the authorizer: the ledger (step 5) and the credential (step 9).
  /// Only an allowed request gets either, so a denied one never extends a chain.
  public func finish(_ decision: inout Decision, snapshot: PolicySnapshot, trace: Bool = false) async {
    await engine.consult(ledger, for: &decision, snapshot: snapshot, trace: trace)
    if decision.verdict == .allow, let plan = decision.credential {
      guard let issuer else {
        return engine.credentialUnavailable(&decision, "this authorizer issues no credentials", trace: trace)
      }
      do throws(CredentialIssuer.Unavailable) {
        let value = try await issuer.issue(plan, for: decision, snapshot: snapshot)
        decision.injectCredential(plan, value: value)
        if trace {
          let what =
            switch plan.kind {
            case .mint(let ttl): "minted a JWT valid \(ttl) s"
            case .secret(let name): "injected secret \(name)"
            }
          decision.trace.append(.init(step: "credentials", outcome: "ok", detail: "\(what) as \(plan.header)"))
        }
      } catch {
        engine.credentialUnavailable(&decision, error.detail, trace: trace)
      }
    }
  }
}

/// The decision log line (SPEC section 9): metadata only, never a body, argument or credential.
/// With a control plane, the same event also goes to the audit queue.
public struct DecisionLog: Sendable {
  let logger: Logger
  let audit: AuditQueue?
  let metrics: AuthorizerMetrics?

  public init(logger: Logger, audit: AuditQueue? = nil, metrics: AuthorizerMetrics? = nil) {
    self.logger = logger
    self.audit = audit
    self.metrics = metrics
  }

  public func record(_ decision: Decision, id: String, latency: Duration) {
    metrics?.record(decision, latency: latency)
    let microseconds = Int(latency.components.seconds * 1_000_000 + latency.components.attoseconds / 1_000_000_000_000)
    if let audit {
      audit.append(decision, id: id, time: Date(), latencyMicroseconds: microseconds)
    }
    let null = Logger.MetadataValue.stringConvertible(JSONNull())
    func text(_ value: String?) -> Logger.MetadataValue { value.map { .string($0) } ?? null }
    logger.info(
      "ext_authz decision",
      metadata: [
        "decision_id": .string(id),
        "surface": "mesh",
        "verdict": .string(decision.verdict.rawValue),
        "reason": text(decision.reason?.rawValue),
        "would_deny": text(decision.wouldDeny?.rawValue),
        "mode": text(decision.mode?.rawValue),
        "agent": text(decision.agent),
        "source_principal": text(decision.sourcePrincipal.isEmpty ? nil : decision.sourcePrincipal),
        "destination": text(decision.destination),
        "kind": text(decision.kind?.rawValue),
        "method": text(decision.method),
        "path": text(decision.path),
        "tool": text(decision.tool),
        "rpc_method": text(decision.rpcMethod),
        "chain_id": text(decision.chainID),
        "external_host": text(decision.externalHost),
        "policy_version": text(decision.policyVersion),
        "findings": .array(decision.findings.map { .string($0) }),
        "aibom": decision.component.map { component in
          .dictionary([
            "publisher": text(component.publisher),
            "version": text(component.version),
            "risk": text(component.risk?.rawValue),
          ])
        } ?? null,
        "latency_us": .stringConvertible(microseconds),
      ]
    )
  }
}
