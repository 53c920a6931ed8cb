import Testing

@testable import RemitEngine

@Suite struct DecisionEngineTests {
  let engine = DecisionEngine()
  let snapshot: PolicySnapshot

  init() throws {
    snapshot = try PolicyFixtures.snapshot()
  }

  static let agent = "spiffe://cluster.local/ns/agents/sa/checkout-bot"
  static let inventory = "spiffe://cluster.local/ns/tools/sa/inventory"

  static func mcp(
    _ body: String,
    from source: String = agent,
    to destination: String = inventory,
    headers: [String: String] = ["content-type": "application/json"]
  ) -> GovernedRequest {
    GovernedRequest(
      sourcePrincipal: source,
      destinationPrincipal: destination,
      http: .init(method: "POST", path: "/mcp", host: "inventory", headers: headers, body: Array(body.utf8))
    )
  }

  static func toolCall(_ name: String, id: String = "1") -> String {
    #"{"jsonrpc":"2.0","id":\#(id),"method":"tools/call","params":{"name":"\#(name)","arguments":{"sku":"X-1"}}}"#
  }

  static func get(_ path: String, from source: String = agent, to destination: String) -> GovernedRequest {
    GovernedRequest(
      sourcePrincipal: source,
      destinationPrincipal: destination,
      http: .init(method: "GET", path: path, host: "x")
    )
  }

  func decide(_ request: GovernedRequest, _ snapshot: PolicySnapshot? = nil) -> Decision {
    engine.decide(request, snapshot: snapshot ?? self.snapshot, trace: true)
  }

  func expectDeny(_ request: GovernedRequest, _ reason: ReasonCode, sourceLocation: SourceLocation = #_sourceLocation) {
    let decision = decide(request)
    #expect(decision.verdict == .deny, "trace: \(decision.trace)", sourceLocation: sourceLocation)
    #expect(decision.reason == reason, "trace: \(decision.trace)", sourceLocation: sourceLocation)
  }

  func expectAllow(_ request: GovernedRequest, sourceLocation: SourceLocation = #_sourceLocation) {
    let decision = decide(request)
    #expect(decision.verdict == .allow, "trace: \(decision.trace)", sourceLocation: sourceLocation)
    #expect(decision.reason == nil, sourceLocation: sourceLocation)
    #expect(decision.wouldDeny == nil, sourceLocation: sourceLocation)
  }

  // MARK: Snapshot and identity

  /// The compiled principal table is a shortcut for parsing: for every principal, named by the
  /// policy or not, canonically equal to one or not, it gives what the parser gives.
  @Test func knownPrincipalsResolveExactlyAsParsing() {
    #expect(!snapshot.knownIdentities.isEmpty)
    #expect(snapshot.knownIdentities[.init(Self.agent)] != nil)
    #expect(snapshot.knownIdentities[.init(Self.inventory)] != nil)
    var principals = Array(snapshot.knownIdentities.keys.prefix(50).map(\.principal))
    principals += [
      Self.agent + "/", Self.agent.uppercased(), "spiffe://cluster.local/ns/agents/sa/checkout-bot\u{0301}",
      // U+212A KELVIN SIGN is canonically equivalent to "K": equal as Swift strings, not as bytes.
      "spiffe://cluster.local/ns/agents/sa/chec\u{212A}out-bot", "spiffe://other.domain/ns/agents/sa/checkout-bot",
      "", "spiffe://", "spiffe://cluster.local/ns/tools/sa/unknown",
    ]
    for principal in principals {
      let fast = snapshot.identity(principal: principal)
      let parsed = WorkloadIdentity.parse(principal)
      switch (fast, parsed) {
      case (.success(let a), .success(let b)):
        #expect(a == b, "\(principal)")
        // The facts stored with a table entry are the ones the lookups give.
        if case .success(let (_, facts)) = snapshot.resolve(principal: principal) {
          let looked = PolicySnapshot.facts(
            of: b, agents: snapshot.agentsByWorkload, egressGateways: snapshot.egressGateways,
            a2aNamespaces: snapshot.a2aNamespaces, trustDomains: snapshot.trustDomains)
          #expect(facts.agent === looked.agent, "\(principal)")
          #expect(facts.inTrustDomains == looked.inTrustDomains, "\(principal)")
          #expect(facts.isEgressGateway == looked.isEgressGateway, "\(principal)")
          #expect(facts.isA2APeer == looked.isA2APeer, "\(principal)")
        }
      case (.failure(let a), .failure(let b)): #expect(a == b, "\(principal)")
      default: Issue.record("table and parser disagree on \(principal)")
      }
    }
  }

  @Test func noSnapshotIsPolicyUnavailable() {
    let decision = engine.decide(Self.mcp(Self.toolCall("get_stock")), snapshot: nil)
    #expect(decision.verdict == .deny)
    #expect(decision.reason == .policyUnavailable)
  }

  @Test func missingPrincipalIsIdentityMissing() {
    expectDeny(Self.mcp(Self.toolCall("get_stock"), from: ""), .identityMissing)
  }

  @Test func malformedOrForeignIdentitiesAreInvalid() {
    expectDeny(
      Self.mcp(Self.toolCall("get_stock"), from: "spiffe://cluster.local/agents/checkout-bot"), .identityInvalid)
    expectDeny(Self.mcp(Self.toolCall("get_stock"), from: "not a uri"), .identityInvalid)
    expectDeny(
      Self.mcp(Self.toolCall("get_stock"), from: "spiffe://other.domain/ns/agents/sa/checkout-bot"), .identityInvalid)
  }

  @Test func unboundIdentityIsUnmappedUnlessRolloutAllows() throws {
    let rogue = Self.mcp(Self.toolCall("get_stock"), from: "spiffe://cluster.local/ns/agents/sa/rogue")
    expectDeny(rogue, .identityUnmapped)
    #expect(decide(rogue).destination == "tools/inventory")
    #expect(decide(rogue).method == "POST")
    let permissive = try PolicyFixtures.snapshot(
      PolicyFixtures.basic.replacingOccurrences(of: "unmappedIdentity: deny", with: "unmappedIdentity: allow")
    )
    let decision = decide(rogue, permissive)
    #expect(decision.verdict == .allow)
    #expect(decision.findings == ["identity_unmapped_allowed"])
    #expect(decision.agent == nil)
  }

  @Test func earlyDenialsOfJSONRPCCallsStillCarryTheRequestID() {
    let rogue = decide(
      Self.mcp(Self.toolCall("get_stock", id: "77"), from: "spiffe://cluster.local/ns/agents/sa/rogue"))
    #expect(rogue.reason == .identityUnmapped)
    #expect(rogue.jsonRPC == .init(isBatch: false, ids: ["77"]))
    let missing = decide(Self.mcp(Self.toolCall("get_stock", id: "\"x\""), from: ""))
    #expect(missing.jsonRPC == .init(isBatch: false, ids: ["\"x\""]))
    // Not JSON-RPC: no JSON-RPC reply.
    let plain = decide(Self.get("/x", from: "", to: Self.inventory))
    #expect(plain.jsonRPC == nil)
  }

  @Test func identityDenialsAreEnforcedEvenInObserveMode() {
    // The observing agent's identity is in a foreign trust domain: never turned into an allow.
    let foreign = Self.mcp(Self.toolCall("nope"), from: "spiffe://evil.example/ns/agents/sa/watcher")
    expectDeny(foreign, .identityInvalid)
  }

  // MARK: Request hygiene

  @Test func badPathsAreRequestInvalid() {
    let tool = "spiffe://cluster.local/ns/tools/sa/catalog"
    expectDeny(Self.get("/api/v1/items/../admin", to: tool), .requestInvalid)
    expectDeny(Self.get("/api/v1/items/a%2Fb", to: tool), .requestInvalid)
    var request = Self.get("/api/v1/items/1", to: tool)
    request.http?.method = "get"
    expectDeny(request, .requestInvalid)
  }

  @Test func missingOrInvalidDestinationIsRequestInvalid() {
    expectDeny(Self.mcp(Self.toolCall("get_stock"), to: ""), .requestInvalid)
    expectDeny(Self.mcp(Self.toolCall("get_stock"), to: "spiffe://other/ns/tools/sa/inventory"), .requestInvalid)
  }

  // MARK: MCP scope

  @Test func inScopeToolCallIsAllowed() {
    let decision = decide(Self.mcp(Self.toolCall("get_stock")))
    #expect(decision.verdict == .allow)
    #expect(decision.agent == "checkout-bot")
    #expect(decision.kind == .eastWest)
    #expect(decision.destination == "tools/inventory")
    #expect(decision.tool == "get_stock")
    #expect(decision.rpcMethod == "tools/call")
    #expect(decision.policyVersion == "7")
    expectAllow(Self.mcp(Self.toolCall("reserve_item")))
  }

  @Test func outOfScopeToolIsDeniedWithTheRequestID() {
    let decision = decide(Self.mcp(Self.toolCall("delete_all", id: "\"abc\"")))
    #expect(decision.verdict == .deny)
    #expect(decision.reason == .scopeToolDenied)
    #expect(decision.jsonRPC == .init(isBatch: false, ids: ["\"abc\""]))
    #expect(decision.tool == "delete_all")
  }

  @Test func resourcesPromptsAndMethods() {
    func call(_ method: String, _ params: String) -> GovernedRequest {
      Self.mcp(#"{"jsonrpc":"2.0","id":1,"method":"\#(method)","params":\#(params)}"#)
    }
    expectAllow(call("resources/read", #"{"uri":"inventory://items/42"}"#))
    expectDeny(call("resources/read", #"{"uri":"file:///etc/passwd"}"#), .scopeToolDenied)
    expectAllow(call("prompts/get", #"{"name":"summary"}"#))
    expectDeny(call("prompts/get", #"{"name":"other"}"#), .scopeToolDenied)
    expectAllow(call("tools/list", "{}"))
    expectDeny(call("resources/list", "{}"), .scopeToolDenied)
    expectDeny(call("prompts/list", "{}"), .scopeToolDenied)
    expectAllow(call("initialize", #"{"protocolVersion":"2025-06-18"}"#))
    expectAllow(call("ping", "{}"))
    expectAllow(Self.mcp(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#))
    expectAllow(Self.mcp(#"{"jsonrpc":"2.0","id":3,"result":{}}"#))
  }

  @Test func toolCallWithoutANameIsMalformed() {
    expectDeny(Self.mcp(#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#), .bodyMalformed)
    expectDeny(Self.mcp(#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":5}}"#), .bodyMalformed)
  }

  @Test func aMethodGlobNeverGrantsTools() throws {
    let policy = try PolicyFixtures.snapshot(
      PolicyFixtures.basic.replacingOccurrences(of: "methods: [tools/list]", with: "methods: [\"*\"]")
    )
    let decision = decide(Self.mcp(Self.toolCall("delete_all")), policy)
    #expect(decision.reason == .scopeToolDenied)
  }

  @Test func everyBatchElementMustPass() {
    let good = Self.toolCall("get_stock", id: "1")
    let bad = Self.toolCall("delete_all", id: "2")
    let decision = decide(Self.mcp("[\(good),\(bad)]"))
    #expect(decision.reason == .scopeToolDenied)
    #expect(decision.jsonRPC == .init(isBatch: true, ids: ["1", "2"]))
    expectAllow(Self.mcp("[\(good),\(Self.toolCall("reserve_x", id: "3"))]"))
  }

  @Test func malformedJSONToAnMCPDestinationIsBodyMalformed() {
    let decision = decide(Self.mcp(#"{"jsonrpc":"2.0","id":1,"method":"tools/call""#))
    #expect(decision.reason == .bodyMalformed)
    #expect(decision.jsonRPC == .init(isBatch: false, ids: ["null"]))
    expectDeny(
      Self.mcp(#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_stock","name":"delete_all"}}"#),
      .bodyMalformed)
    expectDeny(Self.mcp(String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)), .bodyMalformed)
    expectDeny(Self.mcp(#"{"method":"tools/call","id":1,"params":{"name":"delete_all"}}"#), .bodyMalformed)
  }

  @Test func escapedToolNamesAreDecodedBeforeMatching() {
    // `\u0064elete_all` is `delete_all`: the tool sees the decoded name, so must the engine.
    expectDeny(Self.mcp(Self.toolCall(#"\u0064elete_all"#)), .scopeToolDenied)
    expectAllow(Self.mcp(Self.toolCall(#"get_\u0073tock"#)))
  }

  @Test func nonJSONToAnMCPOnlyDestinationIsARouteDenial() {
    expectDeny(Self.mcp(Self.toolCall("delete_all"), headers: ["content-type": "text/plain"]), .scopeRouteDenied)
    expectDeny(Self.mcp(Self.toolCall("delete_all"), headers: [:]), .scopeRouteDenied)
  }

  @Test func headerValuesAreReadWithOptionalWhitespaceAndParameters() {
    expectDeny(
      Self.mcp(Self.toolCall("delete_all"), headers: ["content-type": " Application/JSON ; charset=utf-8"]),
      .scopeToolDenied)
    expectAllow(Self.mcp(Self.toolCall("get_stock"), headers: ["content-type": "application/vnd.api+json"]))
    let cut = ["content-type": "application/json", "content-length": " 70000\t"]
    expectDeny(Self.mcp(Self.toolCall("get_stock"), headers: cut), .bodyTruncated)
    let gzip = ["content-type": "application/json", "content-encoding": " gzip "]
    expectDeny(Self.mcp(Self.toolCall("get_stock"), headers: gzip), .bodyMalformed)
    expectAllow(
      Self.mcp(
        Self.toolCall("get_stock"), headers: ["content-type": "application/json", "content-encoding": "identity"]))
  }

  @Test func encodedBodiesAreDecodedBeforeToolExtraction() {
    let headers = ["content-type": "application/json", "content-encoding": "gzip"]
    // Not gzip at all.
    expectDeny(Self.mcp(Self.toolCall("get_stock"), headers: headers), .bodyMalformed)
    func gzipped(_ body: String) -> GovernedRequest {
      GovernedRequest(
        sourcePrincipal: Self.agent, destinationPrincipal: Self.inventory,
        http: .init(method: "POST", path: "/mcp", headers: headers, body: Compression.gzip(body)))
    }
    expectAllow(gzipped(Self.toolCall("get_stock")))
    expectDeny(gzipped(Self.toolCall("delete_all")), .scopeToolDenied)
    #expect(decide(gzipped(Self.toolCall("delete_all", id: "\"a\""))).jsonRPC?.ids == ["\"a\""])
  }

  @Test func truncatedBodies() throws {
    let headers = ["content-type": "application/json", "x-envoy-auth-partial-body": "true"]
    expectDeny(Self.mcp(Self.toolCall("get_stock"), headers: headers), .bodyTruncated)
    let partial = try PolicyFixtures.snapshot(
      PolicyFixtures.basic.replacingOccurrences(of: "truncatedBody: deny", with: "truncatedBody: inspect-partial")
    )
    let complete = decide(Self.mcp(Self.toolCall("get_stock"), headers: headers), partial)
    #expect(complete.verdict == .allow)
    #expect(complete.findings == ["body_truncated"])
    let cut = decide(Self.mcp(String(Self.toolCall("get_stock").dropLast(5)), headers: headers), partial)
    #expect(cut.reason == .bodyMalformed)
    #expect(cut.findings == ["body_truncated"])
  }

  @Test func cutBodiesAreSeenEvenWhenEnvoySaysTheyAreNot() {
    let body = Self.toolCall("get_stock")
    // Envoy 1.40 sends "false" when its buffer fills to exactly max_request_bytes.
    let longer = ["content-type": "application/json", "x-envoy-auth-partial-body": "false", "content-length": "70000"]
    expectDeny(Self.mcp(body, headers: longer), .bodyTruncated)
    let exact = ["content-type": "application/json", "content-length": "\(body.utf8.count)"]
    expectAllow(Self.mcp(body, headers: exact))
    // No content-length (chunked): a body that fills the limit is treated as cut.
    let small = DecisionEngine(configuration: .init(envoyMaxRequestBytes: body.utf8.count))
    let decision = small.decide(Self.mcp(body), snapshot: snapshot)
    #expect(decision.reason == .bodyTruncated)
    let roomy = DecisionEngine(configuration: .init(envoyMaxRequestBytes: body.utf8.count + 1))
    #expect(roomy.decide(Self.mcp(body), snapshot: snapshot).verdict == .allow)
  }

  // MARK: Destinations and HTTP routes

  @Test func destinationOutsideTheMissionIsDenied() {
    expectDeny(
      Self.mcp(Self.toolCall("get_stock"), to: "spiffe://cluster.local/ns/tools/sa/payments"), .scopeDestinationDenied)
  }

  @Test func agentWithoutAMissionIsDeniedEverything() {
    expectDeny(
      Self.mcp(Self.toolCall("get_stock"), from: "spiffe://cluster.local/ns/agents/sa/idle"), .scopeDestinationDenied)
  }

  @Test func httpRoutes() {
    let catalog = "spiffe://cluster.local/ns/tools/sa/catalog"
    expectAllow(Self.get("/api/v1/items/42", to: catalog))
    expectAllow(Self.get("/api/v1/items/42?expand=1", to: catalog))
    expectAllow(Self.get("/api/v1/%69tems/42", to: catalog))
    expectDeny(Self.get("/api/v1/items/42/secret", to: catalog), .scopeRouteDenied)
    expectDeny(Self.get("/api/v1/orders/1", to: catalog), .scopeRouteDenied)
    var post = Self.get("/api/v1/orders/1/lines/2", to: catalog)
    post.http?.method = "POST"
    expectAllow(post)
    post.http?.method = "DELETE"
    expectDeny(post, .scopeRouteDenied)
  }

  /// A framework that honours `X-HTTP-Method-Override` runs the request as that method, so a route
  /// must allow it as well as the method on the wire.
  @Test func methodOverrideHeadersMustAlsoBeAllowed() {
    let catalog = "spiffe://cluster.local/ns/tools/sa/catalog"
    var post = Self.get("/api/v1/orders/1", to: catalog)
    post.http?.method = "POST"
    expectAllow(post)
    for name in ["x-http-method-override", "x-http-method", "x-method-override"] {
      var overridden = post
      overridden.http?.headers[name] = "DELETE"
      expectDeny(overridden, .scopeRouteDenied)
      overridden.http?.headers[name] = " delete "
      expectDeny(overridden, .scopeRouteDenied)
      overridden.http?.headers[name] = "post"  // the same method: nothing changes
      expectAllow(overridden)
      overridden.http?.headers[name] = "DELETE /api"
      expectDeny(overridden, .requestInvalid)
    }
    // A GET the mission allows, asked to run as a POST to the same path, which it does not.
    var get = Self.get("/api/v1/items/42", to: catalog)
    get.http?.headers["x-http-method-override"] = "POST"
    expectDeny(get, .scopeRouteDenied)
    // Two headers that disagree cannot be read one way.
    var both = post
    both.http?.headers["x-http-method-override"] = "POST"
    both.http?.headers["x-http-method"] = "DELETE"
    expectDeny(both, .requestInvalid)
    // On a JSON-RPC call it has no meaning but a different one for the server (DELETE ends an MCP
    // session), so it is refused.
    var call = Self.mcp(Self.toolCall("get_stock"))
    call.http?.headers["x-http-method-override"] = "DELETE"
    expectDeny(call, .requestInvalid)
    // A whole-destination grant allows every method.
    var anything = Self.get("/anything", to: "spiffe://cluster.local/ns/tools/sa/everything")
    anything.http?.headers["x-http-method-override"] = "DELETE"
    expectAllow(anything)
  }

  @Test func restJSONToAnHTTPDestinationUsesRoutes() {
    let catalog = "spiffe://cluster.local/ns/tools/sa/catalog"
    var request = Self.mcp(#"{"sku":"X"}"#, to: catalog)
    request.http?.path = "/api/v1/orders/new"
    expectAllow(request)
  }

  @Test func wholeDestinationGrantAllowsAnything() {
    let everything = "spiffe://cluster.local/ns/tools/sa/everything"
    expectAllow(Self.get("/anything", to: everything))
    expectAllow(Self.mcp(Self.toolCall("whatever"), to: everything))
  }

  @Test func wildcardDestinations() {
    let planner = "spiffe://cluster.local/ns/planning/sa/planner"
    expectAllow(Self.mcp(Self.toolCall("search"), from: planner, to: "spiffe://cluster.local/ns/tools/sa/anything"))
    expectDeny(
      Self.mcp(Self.toolCall("other"), from: planner, to: "spiffe://cluster.local/ns/tools/sa/anything"),
      .scopeToolDenied)
    expectDeny(
      Self.mcp(Self.toolCall("search"), from: planner, to: "spiffe://cluster.local/ns/other/sa/x"),
      .scopeDestinationDenied)
  }

  @Test func tcpChecksToRestrictedDestinationsAreDenied() {
    let request = GovernedRequest(sourcePrincipal: Self.agent, destinationPrincipal: Self.inventory)
    expectDeny(request, .scopeRouteDenied)
  }

  // MARK: A2A and egress

  @Test func a2aHopsUseA2AMethods() throws {
    // agents/planner is an A2A destination bound to no agent: escalation narrow lets the hop go.
    let snapshot = try PolicyFixtures.snapshot(
      PolicyFixtures.basic.replacingOccurrences(
        of: "  a2aNamespaces: [agents]\n", with: "  a2aNamespaces: [agents]\n  delegation: {escalation: narrow}\n"))
    let planner = "spiffe://cluster.local/ns/agents/sa/planner"
    let chain = ["content-type": "application/json", "x-remit-delegation-chain-id": "c-1"]
    func send(_ method: String) -> GovernedRequest {
      Self.mcp(#"{"jsonrpc":"2.0","id":1,"method":"\#(method)","params":{}}"#, to: planner, headers: chain)
    }
    let decision = decide(send("message/send"), snapshot)
    #expect(decision.kind == .a2a)
    #expect(decision.verdict == .allow)
    #expect(
      decision.delegation?.hop
        == DelegationHop(chainId: "c-1", caller: "checkout-bot", callee: "agents/planner", maxDepth: 4, ttlSeconds: 900)
    )
    #expect(decide(send("tasks/get"), snapshot).verdict == .allow)
    #expect(
      decide(Self.mcp(Self.toolCall("get_stock"), to: planner, headers: chain), snapshot).reason == .scopeToolDenied)
    // A bound agent outside a2aNamespaces is still an A2A destination.
    let bound = Self.mcp(Self.toolCall("x"), to: "spiffe://cluster.local/ns/planning/sa/planner")
    #expect(decide(bound).kind == .a2a)
  }

  @Test func hostsAreNormalisedForLookups() {
    #expect(DecisionEngine.hostWithoutPort("inventory.tools.svc.cluster.local") == "inventory.tools.svc.cluster.local")
    #expect(DecisionEngine.hostWithoutPort("API.Example.com:443") == "api.example.com")
    #expect(DecisionEngine.hostWithoutPort("api.example.com.") == "api.example.com")
    #expect(DecisionEngine.hostWithoutPort("[::1]:8080") == "::1")
    #expect(DecisionEngine.hostWithoutPort("example.com:8080") == "example.com")
    #expect(DecisionEngine.hostWithoutPort("") == "")
  }

  @Test func egressHosts() {
    let gateway = "spiffe://cluster.local/ns/istio-system/sa/istio-egressgateway-service-account"
    func egress(host: String = "", sni: String = "") -> GovernedRequest {
      GovernedRequest(
        sourcePrincipal: Self.agent,
        destinationPrincipal: gateway,
        tlsServerName: sni,
        http: host.isEmpty ? nil : .init(method: "GET", path: "/v1/charges", host: host)
      )
    }
    let decision = decide(egress(host: "api.stripe.com"))
    #expect(decision.kind == .egress)
    #expect(decision.verdict == .allow)
    expectAllow(egress(host: "API.Stripe.com:443"))
    expectAllow(egress(host: "eu.payments.example.com"))
    expectAllow(egress(sni: "api.stripe.com"))
    expectAllow(egress(host: "203.0.113.10"))
    expectDeny(egress(host: "payments.example.com"), .egressHostDenied)
    expectDeny(egress(host: "evil.example"), .egressHostDenied)
    expectDeny(egress(sni: "evil.example"), .egressHostDenied)
    expectDeny(egress(), .egressHostDenied)
  }

  // MARK: Observe mode and header hygiene

  @Test func observeModeAllowsAndRecordsWouldDeny() {
    let watcher = "spiffe://cluster.local/ns/agents/sa/watcher"
    let decision = decide(Self.mcp(Self.toolCall("delete_all"), from: watcher))
    #expect(decision.verdict == .allow)
    #expect(decision.reason == nil)
    #expect(decision.wouldDeny == .scopeToolDenied)
    #expect(decision.mode == .observe)
    let allowed = decide(Self.mcp(Self.toolCall("get_stock"), from: watcher))
    #expect(allowed.verdict == .allow)
    #expect(allowed.wouldDeny == nil)
    // Observe-mode allows strip forged Remit headers too.
    let forged = decide(
      Self.mcp(
        Self.toolCall("delete_all"), from: watcher,
        headers: ["content-type": "application/json", "x-remit-reason": "x"])
    )
    #expect(forged.headersToRemove == ["x-remit-reason"])
  }

  @Test func spoofableHeadersAreRemovedOnAllow() {
    let headers = [
      "content-type": "application/json",
      "x-remit-reason": "forged",
      "x-remit-agent": "admin",
      "x-remit-delegation-chain-id": "chain-1",
    ]
    let decision = decide(Self.mcp(Self.toolCall("get_stock"), headers: headers))
    #expect(decision.verdict == .allow)
    #expect(decision.headersToRemove == ["x-remit-agent", "x-remit-reason"])
    #expect(decision.chainID == "chain-1")
  }

  @Test func traceExplainsTheDecision() {
    let decision = decide(Self.mcp(Self.toolCall("delete_all")))
    #expect(decision.trace.map(\.step) == ["snapshot", "identity", "classify", "scope"])
    #expect(decision.trace.last?.outcome == "scope_tool_denied")
    let untraced = engine.decide(Self.mcp(Self.toolCall("delete_all")), snapshot: snapshot)
    #expect(untraced.trace.isEmpty)
  }

  @Test func decisionsNeverCarryArgumentValues() {
    let decision = decide(Self.mcp(Self.toolCall("delete_all")))
    let text = "\(decision)"
    #expect(!text.contains("X-1"))
  }
}
