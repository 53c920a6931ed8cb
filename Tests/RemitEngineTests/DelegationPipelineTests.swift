import Testing

@testable import RemitEngine

/// Step 5 of the pipeline and the credential plan, with the in-memory ledger in between as the
/// authorizer runs them.
@Suite struct DelegationPipelineTests {
  static func policy(escalation: String, maxDepth: Int = 2) -> String {
    """
    apiVersion: remit/v1
    kind: Policy
    settings:
      a2aNamespaces: [agents]
      delegation: {maxDepth: \(maxDepth), escalation: \(escalation), ttlSeconds: 60}
    agents:
      - {id: lead, meshIdentity: {namespace: agents, serviceAccount: lead}, mission: lead}
      - {id: helper, meshIdentity: {namespace: agents, serviceAccount: helper}, mission: helper}
      - {id: third, meshIdentity: {namespace: agents, serviceAccount: third}, mission: helper}
      - {id: strict, meshIdentity: {namespace: agents, serviceAccount: strict}, mission: strict}
      - {id: watcher, meshIdentity: {namespace: agents, serviceAccount: watcher}, mission: lead, mode: observe}
    missions:
      - id: lead
        allow:
          - to: "agents/*"
            a2a: {methods: ["message/send"]}
          - to: tools/search
            mcp: {tools: ["search_*"]}
        credentials:
          - {to: tools/search, mint: {ttlSeconds: 120}}
          - {to: "agents/*", secret: {name: a2a-key, header: x-a2a-key}}
      - id: helper
        allow:
          - to: "agents/*"
            a2a: {methods: ["message/send"]}
          - to: tools/search
            mcp: {tools: [search_web, search_news, delete_index]}
      - id: strict
        delegation: {requireChain: true}
        allow:
          - to: tools/search
    """
  }

  let engine = DecisionEngine()

  static func principal(_ sa: String, ns: String = "agents") -> String { "spiffe://cluster.local/ns/\(ns)/sa/\(sa)" }

  static func rpc(
    _ method: String, name: String? = nil, from: String, to: String, chain: String? = "chain-1",
    extra: [String: String] = [:]
  ) -> GovernedRequest {
    var headers = ["content-type": "application/json"]
    if let chain { headers["x-remit-delegation-chain-id"] = chain }
    headers.merge(extra) { $1 }
    let params = name.map { #"{"name":"\#($0)","arguments":{}}"# } ?? "{}"
    let body = #"{"jsonrpc":"2.0","id":1,"method":"\#(method)","params":\#(params)}"#
    return GovernedRequest(
      sourcePrincipal: principal(from), destinationPrincipal: to.contains("/") ? to : principal(to),
      http: .init(method: "POST", path: "/", host: "x", headers: headers, body: Array(body.utf8)))
  }

  static let search = "spiffe://cluster.local/ns/tools/sa/search"

  /// Decide, ask the ledger when the engine says so, complete: what the authorizer does.
  func run(
    _ request: GovernedRequest, _ snapshot: PolicySnapshot, ledger: some DelegationLedger,
    failing: Bool = false
  ) async -> Decision {
    var decision = engine.decide(request, snapshot: snapshot, trace: true)
    if failing {
      await engine.consult(UnreachableLedger(), for: &decision, snapshot: snapshot, trace: true)
    } else {
      await engine.consult(ledger, for: &decision, snapshot: snapshot, trace: true)
    }
    return decision
  }

  @Test func a2aHopsNeedTheChainHeader() async throws {
    let snapshot = try PolicySnapshot(bytes: Array(Self.policy(escalation: "narrow").utf8), format: .yaml)
    let ledger = InMemoryDelegationLedger()
    let missing = await run(Self.rpc("message/send", from: "lead", to: "helper", chain: nil), snapshot, ledger: ledger)
    #expect(missing.reason == .delegationHeaderMissing)
    let malformed = await run(
      Self.rpc("message/send", from: "lead", to: "helper", chain: "a b"), snapshot, ledger: ledger)
    #expect(malformed.reason == .requestInvalid)
    let hop = await run(Self.rpc("message/send", from: "lead", to: "helper"), snapshot, ledger: ledger)
    #expect(hop.verdict == .allow, "\(hop.trace)")
    #expect(hop.chainID == "chain-1")
    #expect(hop.chainPath == ["lead"])
    // A tool call without a chain is fine for an agent whose mission does not require one.
    #expect(
      await run(
        Self.rpc("tools/call", name: "search_web", from: "helper", to: Self.search, chain: nil), snapshot,
        ledger: ledger
      ).verdict == .allow)
  }

  @Test func requireChainDeniesCallsOutsideAChain() async throws {
    let snapshot = try PolicySnapshot(bytes: Array(Self.policy(escalation: "narrow").utf8), format: .yaml)
    let ledger = InMemoryDelegationLedger()
    let alone = await run(
      Self.rpc("tools/call", name: "x", from: "strict", to: Self.search, chain: nil), snapshot, ledger: ledger)
    #expect(alone.reason == .delegationHeaderMissing)
    let inChain = await run(
      Self.rpc("tools/call", name: "x", from: "strict", to: Self.search, chain: "s-1"), snapshot, ledger: ledger)
    #expect(inChain.verdict == .allow)
  }

  @Test func narrowModeKeepsLaterCallsInsideTheEffectiveScope() async throws {
    let snapshot = try PolicySnapshot(bytes: Array(Self.policy(escalation: "narrow").utf8), format: .yaml)
    let ledger = InMemoryDelegationLedger()
    #expect(await run(Self.rpc("message/send", from: "lead", to: "helper"), snapshot, ledger: ledger).verdict == .allow)
    // helper's mission allows both; lead's (its delegator's) only search_*.
    let inside = await run(
      Self.rpc("tools/call", name: "search_web", from: "helper", to: Self.search), snapshot, ledger: ledger)
    #expect(inside.verdict == .allow, "\(inside.trace)")
    #expect(inside.chainPath == ["lead", "helper"])
    let outside = await run(
      Self.rpc("tools/call", name: "delete_index", from: "helper", to: Self.search), snapshot, ledger: ledger)
    #expect(outside.reason == .delegationEscalation, "\(outside.trace)")
    // The same call outside the chain is within helper's own mission.
    let alone = await run(
      Self.rpc("tools/call", name: "delete_index", from: "helper", to: Self.search, chain: nil), snapshot,
      ledger: ledger)
    #expect(alone.verdict == .allow)
    // Its own mission still applies inside the chain first.
    let never = await run(
      Self.rpc("tools/call", name: "search_images", from: "helper", to: Self.search), snapshot, ledger: ledger)
    #expect(never.reason == .scopeToolDenied)
  }

  @Test func cyclesDepthAndUnknownMembers() async throws {
    let snapshot = try PolicySnapshot(bytes: Array(Self.policy(escalation: "narrow", maxDepth: 2).utf8), format: .yaml)
    let ledger = InMemoryDelegationLedger()
    #expect(await run(Self.rpc("message/send", from: "lead", to: "helper"), snapshot, ledger: ledger).verdict == .allow)
    #expect(await run(Self.rpc("message/send", from: "lead", to: "helper"), snapshot, ledger: ledger).verdict == .allow)
    #expect(
      await run(Self.rpc("message/send", from: "helper", to: "lead"), snapshot, ledger: ledger).reason
        == .delegationCycle)
    #expect(
      await run(Self.rpc("message/send", from: "helper", to: "third"), snapshot, ledger: ledger).verdict == .allow)
    let deep = await run(Self.rpc("message/send", from: "third", to: "strict"), snapshot, ledger: ledger)
    #expect(deep.reason == .delegationDepth, "\(deep.trace)")
    let stranger = await run(
      Self.rpc("tools/call", name: "x", from: "strict", to: Self.search), snapshot, ledger: ledger)
    #expect(stranger.reason == .delegationUnknownMember)
    // The denied hop left nothing behind.
    #expect(ledger.chain("chain-1")?.members.keys.sorted() == ["helper", "lead", "third"])
  }

  @Test func denyModeRefusesAHopToAWiderMission() async throws {
    let snapshot = try PolicySnapshot(bytes: Array(Self.policy(escalation: "deny").utf8), format: .yaml)
    let ledger = InMemoryDelegationLedger()
    // helper's mission allows delete_index, which lead's does not: not provably within.
    let hop = await run(Self.rpc("message/send", from: "lead", to: "helper"), snapshot, ledger: ledger)
    #expect(hop.reason == .delegationEscalation, "\(hop.trace)")
    #expect(ledger.chainCount == 0)
    // lead → watcher has the same mission: covered.
    #expect(
      await run(Self.rpc("message/send", from: "lead", to: "watcher"), snapshot, ledger: ledger).verdict == .allow)
    // An A2A destination bound to no agent has no mission to prove anything with.
    let unbound = await run(Self.rpc("message/send", from: "lead", to: "ghost"), snapshot, ledger: ledger)
    #expect(unbound.reason == .delegationEscalation)
  }

  @Test func anUnreachableLedgerDeniesDistinctly() async throws {
    let snapshot = try PolicySnapshot(bytes: Array(Self.policy(escalation: "narrow").utf8), format: .yaml)
    let decision = await run(
      Self.rpc("message/send", from: "lead", to: "helper"), snapshot, ledger: InMemoryDelegationLedger(), failing: true)
    #expect(decision.reason == .internalError)
    #expect(decision.findings.contains("delegation_ledger_unavailable"))
    #expect(decision.trace.contains { $0.step == "delegation" && $0.outcome == "ledger_unavailable" })
    #expect(decision.headersToSet.isEmpty)
  }

  @Test func observeModeLogsWhatTheLedgerWouldDeny() async throws {
    let snapshot = try PolicySnapshot(bytes: Array(Self.policy(escalation: "narrow").utf8), format: .yaml)
    let ledger = InMemoryDelegationLedger()
    #expect(
      await run(Self.rpc("message/send", from: "lead", to: "watcher"), snapshot, ledger: ledger).verdict == .allow)
    let back = await run(Self.rpc("message/send", from: "watcher", to: "lead"), snapshot, ledger: ledger)
    #expect(back.verdict == .allow)
    #expect(back.wouldDeny == .delegationCycle)
  }

  @Test func credentialsArePlannedForTheDestination() async throws {
    let snapshot = try PolicySnapshot(bytes: Array(Self.policy(escalation: "narrow").utf8), format: .yaml)
    let ledger = InMemoryDelegationLedger()
    let tool = await run(
      Self.rpc("tools/call", name: "search_web", from: "lead", to: Self.search, chain: nil), snapshot, ledger: ledger)
    #expect(
      tool.credential
        == CredentialPlan(
          kind: .mint(ttlSeconds: 120), header: "authorization", scheme: "Bearer", audience: Self.search,
          scope: "search_web"))
    let hop = await run(Self.rpc("message/send", from: "lead", to: "helper"), snapshot, ledger: ledger)
    #expect(hop.credential?.kind == .secret(name: "a2a-key"))
    #expect(hop.credential?.header == "x-a2a-key")
    #expect(hop.credential?.scheme == nil)
    // helper's mission has no credential rule: nothing planned.
    let plain = await run(
      Self.rpc("tools/call", name: "search_web", from: "helper", to: Self.search, chain: nil), snapshot, ledger: ledger)
    #expect(plain.credential == nil)
  }

  @Test func aCredentialScopeStaysBounded() {
    let names = (0..<64).map { "tool_" + String(repeating: "x", count: 100) + "_\($0)" }
    let call = CallScope(
      destination: WorkloadIdentity(trustDomain: "cluster.local", namespace: "tools", serviceAccount: "search"),
      target: .messages(names.map { (method: "tools/call", target: $0) } + [(method: "tools/call", target: names[0])]))
    let scope = call.credentialScope
    #expect(scope.utf8.count <= CallScope.maximumCredentialScopeBytes)
    #expect(scope.split(separator: " ").map(String.init) == Array(names.prefix(scope.split(separator: " ").count)))
    let small = CallScope(
      destination: call.destination, target: .messages([("tools/call", "a"), ("tools/call", "a"), ("ping", nil)]))
    #expect(small.credentialScope == "a ping")
  }

  @Test func injectedAndRemitHeadersFromCallersAreRemoved() async throws {
    let snapshot = try PolicySnapshot(bytes: Array(Self.policy(escalation: "narrow").utf8), format: .yaml)
    let forged = [
      "authorization": "Bearer forged", "x-remit-reason": "x", "x-remit-anything": "y", "x-other": "kept",
    ]
    // helper has no credential rule for tools/search, but lead's mission injects authorization
    // there: the tool must never see a caller's own copy.
    var decision = await run(
      Self.rpc("tools/call", name: "search_web", from: "helper", to: Self.search, extra: forged), snapshot,
      ledger: InMemoryDelegationLedger())
    #expect(decision.verdict == .allow, "\(decision.trace)")
    #expect(decision.headersToRemove == ["authorization", "x-remit-anything", "x-remit-reason"])
    let plan = try #require(
      CredentialPlan(rule: .init(to: "tools/search", mint: .init()), audience: Self.search, scope: "search_web"))
    decision.injectCredential(plan, value: "token")
    #expect(decision.headersToRemove == ["x-remit-anything", "x-remit-reason"])
    #expect(decision.headersToSet.map(\.name) == ["authorization"])
    #expect(decision.headersToSet.map(\.value) == ["Bearer token"])
  }

  @Test func theChainHeaderIsTheOnlyRemitHeaderThatPasses() async throws {
    let snapshot = try PolicySnapshot(bytes: Array(Self.policy(escalation: "narrow").utf8), format: .yaml)
    let decision = await run(
      Self.rpc("message/send", from: "lead", to: "helper", extra: ["x-remit-decision-id": "forged"]), snapshot,
      ledger: InMemoryDelegationLedger())
    #expect(decision.verdict == .allow)
    #expect(decision.headersToRemove == ["x-remit-decision-id"])
  }
}

/// A ledger that cannot be reached, as the control plane's is during an outage.
struct UnreachableLedger: DelegationLedger {
  func record(_ hop: DelegationHop) async throws(DelegationLedgerError) -> DelegationRecord {
    throw DelegationLedgerError(code: "control_plane_unreachable", message: "down")
  }
}
