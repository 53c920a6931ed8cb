import EnvoyAPI
import Foundation
import GRPCCore
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

  public init(store: SnapshotStore, engine: DecisionEngine = DecisionEngine(), decisionLog: DecisionLog) {
    self.store = store
    self.engine = engine
    self.decisionLog = decisionLog
  }

  public func check(
    request: Envoy_Service_Auth_V3_CheckRequest,
    context: ServerContext
  ) async throws -> Envoy_Service_Auth_V3_CheckResponse {
    handle(request)
  }

  /// The whole in-process path, synchronous so it can be measured and tested without a server.
  public func handle(_ request: Envoy_Service_Auth_V3_CheckRequest) -> Envoy_Service_Auth_V3_CheckResponse {
    let started = ContinuousClock.now
    let decisionID = DecisionID.make()
    let governed = GovernedRequest(request)
    let decision = engine.decide(governed, snapshot: store.current)
    let response = decision.checkResponse(decisionID: decisionID)
    let elapsed = ContinuousClock.now - started
    decisionLog.record(decision, id: decisionID, latency: elapsed)
    return response
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
