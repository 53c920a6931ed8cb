/// Step 5 of the pipeline (SPEC section 6) and the credential plan (section 7).
extension DecisionEngine {
  /// What the engine decides alone: the chain header on A2A hops and for `requireChain`
  /// missions, `escalation: deny` between caller and callee missions, and the ledger call to
  /// make. False when the request was denied.
  func prepareDelegation(_ run: inout Evaluation, scope: ScopeResult, snapshot: PolicySnapshot) -> Bool {
    let injected = snapshot.injectedHeaders.isEmpty ? [] : snapshot.injectedHeaders(for: scope.destination)
    run.injectedHeaders = injected
    let chainID = run.decision.chainID
    let isHop = run.decision.kind == .a2a
    if chainID == nil {
      if isHop {
        run.deny(
          .delegationHeaderMissing, step: "delegation",
          "an A2A hop to \(scope.destination.workload) without \(snapshot.chainHeader)")
        return false
      }
      if scope.mission.requireChain {
        run.deny(
          .delegationHeaderMissing, step: "delegation",
          "mission \(scope.mission.id) requires a chain: \(scope.agent.id) may only call with \(snapshot.chainHeader)")
        return false
      }
    }
    let credentialRule = scope.mission.credential(for: scope.destination)
    guard chainID != nil || credentialRule != nil else { return true }
    guard let call = callScope(&run, scope: scope, snapshot: snapshot) else { return false }
    if let credentialRule {
      run.decision.credential = CredentialPlan(
        rule: credentialRule, audience: run.request.destinationPrincipal, scope: call.credentialScope)
    }
    guard let chainID else { return true }

    var callee: String?
    var calleeMission: PolicyDocument.Mission?
    if isHop {
      let calleeAgent = snapshot.agentsByWorkload[scope.destination.workload]
      callee = calleeAgent?.id ?? scope.destination.workload
      calleeMission = calleeAgent?.mission?.source
      if snapshot.escalation == .deny {
        // In deny mode every member's effective scope is its own mission (each hop was proven
        // inside its caller's), so caller against callee is the whole check here; `complete`
        // repeats it against every ancestor in case the policy changed since.
        guard let inner = calleeAgent?.mission else {
          run.deny(
            .delegationEscalation, step: "delegation",
            "escalation: deny: \(scope.destination.workload) has no mission, so it cannot be proven within \(scope.mission.id)"
          )
          return false
        }
        guard MissionCoverage.covers(scope.mission.source, inner.source) else {
          run.deny(
            .delegationEscalation, step: "delegation",
            "escalation: deny: mission \(inner.id) of \(callee ?? "") is not provably within mission \(scope.mission.id) of \(scope.agent.id)"
          )
          return false
        }
      }
    }
    run.decision.delegation = DelegationStep(
      hop: DelegationHop(
        chainId: chainID, caller: scope.agent.id, callee: callee, maxDepth: snapshot.maxDepth,
        ttlSeconds: snapshot.chainTTLSeconds),
      escalation: snapshot.escalation, call: call, calleeMission: calleeMission)
    run.note(
      "delegation", "pending",
      isHop
        ? "chain \(chainID): hop \(scope.agent.id) → \(callee ?? ""); the ledger is asked once the content checks pass"
        : "chain \(chainID): \(scope.agent.id) acts in the chain; the ledger is asked once the content checks pass")
    return true
  }

  /// The call reduced to its scope. Parses a JSON-RPC body a whole-destination grant did not
  /// need parsed; nil when that parse denied the request.
  func callScope(_ run: inout Evaluation, scope: ScopeResult, snapshot: PolicySnapshot) -> CallScope? {
    if let host = scope.externalHost { return CallScope(destination: scope.destination, target: .egress(host: host)) }
    guard let http = run.request.http else { return CallScope(destination: scope.destination, target: .connection) }
    if run.payload == nil, http.hasJSONContentType, !http.body.isEmpty {
      if case .denied = readJSONRPC(&run, http: http, snapshot: snapshot) { return nil }
    }
    if let payload = run.payload {
      let messages = payload.messages.map { message in
        (method: message.method, target: Self.target(of: message, in: payload))
      }
      return CallScope(destination: scope.destination, target: .messages(messages))
    }
    return CallScope(
      destination: scope.destination, target: .route(method: http.method, path: run.decision.path ?? "/"))
  }

  /// Asks `ledger` about an allowed decision's chain call and completes it: what every surface
  /// does between `decide` and the credential.
  public func consult(
    _ ledger: some DelegationLedger, for decision: inout Decision, snapshot: PolicySnapshot, trace: Bool = false
  ) async {
    guard decision.verdict == .allow, let step = decision.delegation else { return }
    let answer: Result<DelegationRecord, DelegationLedgerError>
    do throws(DelegationLedgerError) {
      answer = .success(try await ledger.record(step.hop))
    } catch {
      answer = .failure(error)
    }
    complete(&decision, ledger: answer, snapshot: snapshot, trace: trace)
  }

  /// Finishes step 5 with the ledger's answer: the ledger's own denials (cycle, depth, unknown
  /// member), then the effective scope (every ancestor's mission must allow the call:
  /// `delegation_escalation`). A ledger that could not answer denies (`internal_error`, finding
  /// `delegation_ledger_unavailable`): fail closed. Observe mode applies as in `decide`.
  public func complete(
    _ decision: inout Decision,
    ledger answer: Result<DelegationRecord, DelegationLedgerError>,
    snapshot: PolicySnapshot,
    trace: Bool = false
  ) {
    guard let step = decision.delegation, decision.verdict == .allow else { return }
    var denial: (reason: ReasonCode, outcome: String, detail: String)?
    let chain = step.hop.chainId
    switch answer {
    case .failure(let error):
      if decision.findings.count < configuration.maximumFindings {
        decision.findings.append("delegation_ledger_unavailable")
      }
      denial = (
        .internalError, "ledger_unavailable", "the delegation ledger did not answer (\(error.code)); fail closed"
      )
    case .success(let record):
      if let reason = record.outcome.denial {
        let detail =
          switch record.outcome {
          case .cycle: "\(step.hop.callee ?? "") is already in chain \(chain) (a cycle)"
          case .depth: "\(step.hop.callee ?? "") would be deeper than maxDepth \(step.hop.maxDepth) in chain \(chain)"
          case .full: "chain \(chain) already has \(DelegationHop.maximumMembers) members"
          default: "\(step.hop.caller) is not a member of chain \(chain)"
          }
        denial = (reason, reason.rawValue, detail)
        break
      }
      decision.chainPath = record.callerPath
      denial = effectiveScopeDenial(step, path: record.callerPath, snapshot: snapshot)
      if denial == nil, trace {
        decision.trace.append(
          .init(
            step: "delegation", outcome: "ok",
            detail:
              "chain \(chain) \(record.outcome.rawValue): \(record.callerPath.joined(separator: " → "))\(step.hop.callee.map { " → \($0)" } ?? "")"
          ))
      }
    }
    guard let denial else { return }
    lateDenial(&decision, denial.reason, step: "delegation", outcome: denial.outcome, denial.detail, trace: trace)
  }

  /// The credential of an allowed request could not be issued (brokering disabled, secret
  /// missing): `credential_unavailable`, or a would-deny in observe mode.
  public func credentialUnavailable(_ decision: inout Decision, _ detail: String, trace: Bool = false) {
    guard decision.verdict == .allow else { return }
    lateDenial(
      &decision, .credentialUnavailable, step: "credentials", outcome: ReasonCode.credentialUnavailable.rawValue,
      detail, trace: trace)
  }

  /// A denial after `decide` allowed: observe mode applies as it does there.
  func lateDenial(
    _ decision: inout Decision, _ reason: ReasonCode, step: String, outcome: String, _ detail: String, trace: Bool
  ) {
    if trace { decision.trace.append(.init(step: step, outcome: outcome, detail: detail)) }
    if decision.mode == .observe, !reason.isAlwaysEnforced {
      if decision.wouldDeny == nil { decision.wouldDeny = reason }
      if trace {
        decision.trace.append(
          .init(step: "mode", outcome: "allow", detail: "observe mode: would deny \(reason.rawValue)"))
      }
      return
    }
    decision.verdict = .deny
    decision.reason = reason
    decision.headersToSet = []
    decision.headersToRemove = []
    decision.credential = nil
  }

  /// A member's effective scope is its mission ∩ its delegator's effective scope: every
  /// ancestor's mission must allow the call, and in deny mode cover the callee's mission.
  func effectiveScopeDenial(
    _ step: DelegationStep, path: [String], snapshot: PolicySnapshot
  ) -> (reason: ReasonCode, outcome: String, detail: String)? {
    for ancestor in path.dropLast() {
      guard let mission = snapshot.agentsByID[ancestor]?.mission else {
        return (
          .delegationEscalation, ReasonCode.delegationEscalation.rawValue,
          "delegator \(ancestor) has no mission in this policy, so the chain's effective scope is empty"
        )
      }
      guard step.call.isAllowed(by: mission) else {
        return (
          .delegationEscalation, ReasonCode.delegationEscalation.rawValue,
          "outside chain \(step.hop.chainId)'s effective scope: mission \(mission.id) of delegator \(ancestor) does not allow this call"
        )
      }
      if step.escalation == .deny, step.hop.callee != nil,
        !(step.calleeMission.map { MissionCoverage.covers(mission.source, $0) } ?? false)
      {
        return (
          .delegationEscalation, ReasonCode.delegationEscalation.rawValue,
          "escalation: deny: \(step.hop.callee ?? "")'s mission is not provably within mission \(mission.id) of delegator \(ancestor)"
        )
      }
    }
    return nil
  }
}
