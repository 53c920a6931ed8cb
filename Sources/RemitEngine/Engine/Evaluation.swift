/// The state of one run through the pipeline.
struct Evaluation {
  let request: GovernedRequest
  let tracing: Bool
  var decision: Decision
  var finished = false
  /// The policy's delegation chain header, once a snapshot is known.
  var chainHeader = "x-remit-delegation-chain-id"
  /// The body as read once for all checks: decoded, and parsed when it is JSON.
  var body: [UInt8]?
  var tape: JSONTape?
  var payload: JSONRPCPayload?
  /// Headers some mission's credentials inject toward this destination.
  var injectedHeaders: [String] = []

  init(request: GovernedRequest, tracing: Bool) {
    self.request = request
    self.tracing = tracing
    decision = Decision(sourcePrincipal: request.sourcePrincipal)
  }

  mutating func note(_ step: String, _ outcome: String, _ detail: @autoclosure () -> String) {
    if tracing { decision.trace.append(.init(step: step, outcome: outcome, detail: detail())) }
  }

  /// Records a finding unless `limit` are recorded already (a body full of e-mail addresses
  /// must not make a log line unbounded).
  mutating func addFinding(_ finding: String, limit: Int) {
    if decision.findings.count < limit, !decision.findings.contains(finding) { decision.findings.append(finding) }
  }

  mutating func deny(_ reason: ReasonCode, step: String, _ detail: @autoclosure () -> String) {
    decision.verdict = .deny
    decision.reason = reason
    finished = true
    if tracing { decision.trace.append(.init(step: step, outcome: reason.rawValue, detail: detail())) }
  }

  mutating func allow(snapshot: PolicySnapshot) {
    decision.verdict = .allow
    decision.reason = nil
    finished = true
    removeSpoofableHeaders(chainHeader: snapshot.chainHeader)
  }

  /// Header hygiene: a caller may never forge a Remit header toward the upstream.
  mutating func removeSpoofableHeaders(chainHeader: String) {
    guard let http = request.http else { return }
    let injected = injectedHeaders
    // The common case, no Remit header and nothing injected toward this destination: no walk.
    guard http.facts.hasRemitHeader || !injected.isEmpty else { return decision.headersToRemove = [] }
    decision.headersToRemove = http.headers.keys.filter {
      ($0.hasPrefix("x-remit-") && $0 != chainHeader) || injected.contains($0)
    }.sorted()
  }

  /// Observe mode: a denial the agent's mode does not enforce becomes an allow that records it.
  mutating func applyMode() {
    if decision.verdict == .deny, decision.mode == .observe, let reason = decision.reason, !reason.isAlwaysEnforced {
      decision.verdict = .allow
      decision.reason = nil
      decision.wouldDeny = reason
      if tracing {
        decision.trace.append(
          .init(step: "mode", outcome: "allow", detail: "observe mode: would deny \(reason.rawValue)"))
      }
      removeSpoofableHeaders(chainHeader: chainHeader)
    }
  }

  /// Hands the decision over: swapped out, so neither it nor the rest of the evaluation is
  /// copied (a `consuming` method copied both).
  mutating func handOver() -> Decision {
    var handedOver = Decision(sourcePrincipal: "")
    swap(&handedOver, &decision)
    return handedOver
  }
}
