/// The decision pipeline (SPEC section 5): a governed request and a snapshot in, a decision out.
/// Pure and synchronous; cheap checks first, the first deny wins.
public struct DecisionEngine: Sendable {
  public struct Configuration: Sendable {
    public var jsonLimits: JSONTape.Limits
    /// JSON bodies larger than this are not parsed and are denied `body_malformed`.
    public var maximumJSONBodyBytes: Int
    /// Envoy's `with_request_body.max_request_bytes` (Istio's `maxRequestBytes`). A body without
    /// `content-length` that fills it is treated as cut.
    public var envoyMaxRequestBytes: Int

    public init(
      jsonLimits: JSONTape.Limits = .init(),
      maximumJSONBodyBytes: Int = 4 << 20,
      envoyMaxRequestBytes: Int = 65536
    ) {
      self.jsonLimits = jsonLimits
      self.maximumJSONBodyBytes = maximumJSONBodyBytes
      self.envoyMaxRequestBytes = envoyMaxRequestBytes
    }
  }

  public let configuration: Configuration

  public init(configuration: Configuration = .init()) {
    self.configuration = configuration
  }

  public func decide(_ request: GovernedRequest, snapshot: PolicySnapshot?, trace: Bool = false) -> Decision {
    var evaluation = Evaluation(request: request, tracing: trace)
    evaluate(&evaluation, snapshot: snapshot)
    var decision = evaluation.finish()
    if decision.verdict == .deny && decision.jsonRPC == nil {
      decision.jsonRPC = replyContext(for: request)
    }
    // An early denial (identity) still tells the operator what the caller tried to reach.
    if decision.destination == nil,
      case .success(let destination) = WorkloadIdentity.parse(request.destinationPrincipal)
    {
      decision.destination = destination.workload
    }
    if decision.method == nil, let method = request.http?.method, Self.isValidMethod(method) {
      decision.method = method
    }
    return decision
  }

  /// A request denied before its body was read (an identity denial, say) still gets a JSON-RPC
  /// error carrying its id when it is a JSON-RPC call. Only on the deny path, so it costs allows
  /// nothing.
  func replyContext(for request: GovernedRequest) -> Decision.JSONRPCReply? {
    guard let http = request.http, http.hasJSONContentType, !http.body.isEmpty, http.contentEncoding == nil,
      http.body.count <= configuration.maximumJSONBodyBytes,
      let tape = try? JSONTape(parsing: http.body, limits: configuration.jsonLimits),
      JSONRPCPayload.looksLikeJSONRPC(tape),
      let payload = try? JSONRPCPayload(tape: tape)
    else { return nil }
    return .init(isBatch: payload.isBatch, ids: payload.messages.compactMap(\.idJSON))
  }

  private func evaluate(_ run: inout Evaluation, snapshot: PolicySnapshot?) {
    // 1. Snapshot.
    guard let snapshot else {
      return run.deny(.policyUnavailable, step: "snapshot", "no policy snapshot is loaded")
    }
    run.decision.policyVersion = snapshot.version
    run.chainHeader = snapshot.chainHeader
    run.note("snapshot", "ok", "policy \(snapshot.name) version \(snapshot.version)")

    // 2. Identity.
    let request = run.request
    guard !request.sourcePrincipal.isEmpty else {
      return run.deny(.identityMissing, step: "identity", "no source principal: the caller did not use mTLS")
    }
    let source: WorkloadIdentity
    switch WorkloadIdentity.parse(request.sourcePrincipal) {
    case .success(let identity): source = identity
    case .failure(let failure):
      return run.deny(.identityInvalid, step: "identity", "source principal: \(failure.rawValue)")
    }
    guard snapshot.trustDomains.contains(source.trustDomain) else {
      return run.deny(
        .identityInvalid, step: "identity", "trust domain \(source.trustDomain) is not in settings.trustDomains")
    }
    guard let agent = snapshot.agentsByWorkload[source.workload] else {
      if snapshot.unmappedIdentity == .allow {
        run.decision.findings.append("identity_unmapped_allowed")
        run.note("identity", "allow", "\(source.workload) is bound to no agent; allowed by settings.unmappedIdentity")
        return run.allow(snapshot: snapshot)
      }
      return run.deny(.identityUnmapped, step: "identity", "\(source.workload) is bound to no agent")
    }
    run.decision.agent = agent.id
    run.decision.mode = agent.mode
    run.note("identity", "ok", "\(source.workload) is agent \(agent.id) (\(agent.mode.rawValue))")

    // 3. Classify by destination.
    let destination: WorkloadIdentity
    switch WorkloadIdentity.parse(request.destinationPrincipal) {
    case .success(let identity): destination = identity
    case .failure(let failure):
      let detail = request.destinationPrincipal.isEmpty ? "no destination principal" : failure.rawValue
      return run.deny(.requestInvalid, step: "classify", "destination principal: \(detail)")
    }
    guard snapshot.trustDomains.contains(destination.trustDomain) else {
      return run.deny(.requestInvalid, step: "classify", "destination trust domain is not in settings.trustDomains")
    }
    let kind: RequestKind =
      if snapshot.egressGateways.contains(destination.workload) {
        .egress
      } else if snapshot.agentsByWorkload[destination.workload] != nil
        || snapshot.a2aNamespaces.contains(destination.namespace)
      {
        .a2a
      } else {
        .eastWest
      }
    run.decision.destination = destination.workload
    run.decision.kind = kind
    run.note("classify", "ok", "\(kind.rawValue) to \(destination.workload)")

    // Request hygiene before any match.
    var path = ""
    if let http = request.http {
      guard Self.isValidMethod(http.method) else {
        return run.deny(.requestInvalid, step: "request", "HTTP method is not an upper case token")
      }
      run.decision.method = http.method
      switch RequestPath.hygienic(http.path) {
      case .success(let clean): path = clean
      case .failure(let problem): return run.deny(.requestInvalid, step: "request", problem.rawValue)
      }
      run.decision.path = path
      if let chain = http.headers[snapshot.chainHeader], Self.isValidChainID(chain) {
        run.decision.chainID = chain
      }
    }

    // 4. Mission scope.
    guard let mission = agent.mission else {
      return run.deny(.scopeDestinationDenied, step: "scope", "agent \(agent.id) has no mission")
    }
    if kind == .egress {
      let host = Self.externalHost(request)
      guard !host.isEmpty else {
        return run.deny(.egressHostDenied, step: "scope", "egress check without a host or SNI")
      }
      guard mission.allowsEgress(host: host) else {
        return run.deny(.egressHostDenied, step: "scope", "\(host) is not on mission \(mission.id)'s egress list")
      }
      run.note("scope", "ok", "egress to \(host) allowed by mission \(mission.id)")
      return run.allow(snapshot: snapshot)
    }
    let grants = mission.grants(for: destination)
    guard !grants.isEmpty else {
      return run.deny(
        .scopeDestinationDenied,
        step: "scope",
        "mission \(mission.id) does not allow \(destination.workload)"
      )
    }
    if grants.contains(where: \.unrestricted) {
      run.note("scope", "ok", "mission \(mission.id) allows all of \(destination.workload)")
      return run.allow(snapshot: snapshot)
    }
    guard let http = request.http else {
      return run.deny(
        .scopeRouteDenied, step: "scope", "a TCP connection to \(destination.workload) needs a whole-destination grant")
    }

    if grants.contains(where: \.speaksJSONRPC) && http.hasJSONContentType && !http.body.isEmpty {
      switch readJSONRPC(&run, http: http, snapshot: snapshot) {
      case .denied:
        return
      case .payload(let payload):
        return checkMessages(&run, payload: payload, grants: grants, mission: mission, snapshot: snapshot)
      case .notJSONRPC:
        break
      }
    }
    guard grants.contains(where: { $0.http.contains { $0.matches(method: http.method, path: path) } }) else {
      return run.deny(
        .scopeRouteDenied,
        step: "scope",
        "mission \(mission.id) allows no \(http.method) route to \(destination.workload) matching the path"
      )
    }
    run.note("scope", "ok", "route allowed by mission \(mission.id)")
    run.allow(snapshot: snapshot)
  }

  private enum BodyReading {
    case denied
    case notJSONRPC
    case payload(JSONRPCPayload)
  }

  private func readJSONRPC(
    _ run: inout Evaluation,
    http: GovernedRequest.HTTPRequest,
    snapshot: PolicySnapshot
  ) -> BodyReading {
    // A JSON body to a JSON-RPC destination: if the parse fails, answer as JSON-RPC would.
    run.decision.jsonRPC = .init(isBatch: false, ids: ["null"])
    if http.bodyIsPartial(maxRequestBytes: configuration.envoyMaxRequestBytes) {
      if snapshot.truncatedBody == .deny {
        run.deny(.bodyTruncated, step: "body", "body was cut at Envoy's max_request_bytes")
        return .denied
      }
      run.decision.findings.append(ReasonCode.bodyTruncated.rawValue)
    }
    if let encoding = http.contentEncoding {
      // Fail closed: a body we cannot read must not slip past tool extraction.
      run.deny(.bodyMalformed, step: "body", "content-encoding \(encoding.policyErrorExcerpt) is not decoded")
      return .denied
    }
    guard http.body.count <= configuration.maximumJSONBodyBytes else {
      run.deny(.bodyMalformed, step: "body", "JSON body larger than \(configuration.maximumJSONBodyBytes) bytes")
      return .denied
    }
    let tape: JSONTape
    do {
      tape = try JSONTape(parsing: http.body, limits: configuration.jsonLimits)
    } catch {
      run.deny(.bodyMalformed, step: "body", "malformed JSON: \(error)")
      return .denied
    }
    guard JSONRPCPayload.looksLikeJSONRPC(tape) else {
      run.decision.jsonRPC = nil
      run.note("body", "ok", "JSON body is not JSON-RPC; HTTP rules apply")
      return .notJSONRPC
    }
    do {
      let payload = try JSONRPCPayload(tape: tape)
      run.decision.jsonRPC = .init(isBatch: payload.isBatch, ids: payload.messages.compactMap(\.idJSON))
      return .payload(payload)
    } catch {
      run.deny(.bodyMalformed, step: "body", "invalid JSON-RPC: \(error)")
      return .denied
    }
  }

  private func checkMessages(
    _ run: inout Evaluation,
    payload: JSONRPCPayload,
    grants: [CompiledGrant],
    mission: CompiledMission,
    snapshot: PolicySnapshot
  ) {
    for (index, message) in payload.messages.enumerated() {
      let target: String?
      switch message.method {
      case "tools/call", "prompts/get": target = payload.paramString(message, "name")
      case "resources/read": target = payload.paramString(message, "uri")
      default: target = nil
      }
      if index == 0 {
        run.decision.rpcMethod = message.method
        if message.method == "tools/call" || message.method == "prompts/get" { run.decision.tool = target }
      }
      if let method = message.method, Self.methodsWithTarget.contains(method), target == nil {
        let key = method == "resources/read" ? "uri" : "name"
        return run.deny(.bodyMalformed, step: "scope", "\(method) without a string params.\(key)")
      }
      guard grants.contains(where: { Self.grant($0, allows: message, target: target) }) else {
        let what =
          switch message.method {
          case "tools/call": "tool \(target ?? "")"
          case "resources/read": "resource \(target ?? "")"
          case "prompts/get": "prompt \(target ?? "")"
          default: "method \(message.method ?? "")"
          }
        return run.deny(
          .scopeToolDenied, step: "scope", "mission \(mission.id) does not allow \(what.policyErrorExcerpt)")
      }
    }
    run.note("scope", "ok", "\(payload.messages.count) JSON-RPC message(s) allowed by mission \(mission.id)")
    run.allow(snapshot: snapshot)
  }

  static let methodsWithTarget: Set<String> = ["tools/call", "prompts/get", "resources/read"]

  static func grant(_ grant: CompiledGrant, allows message: JSONRPCPayload.Message, target: String?) -> Bool {
    if grant.unrestricted { return true }
    guard let method = message.method else { return grant.speaksJSONRPC }
    if let a2a = grant.a2aMethods, a2a.matches(method) { return true }
    guard let mcp = grant.mcp else { return false }
    switch method {
    case "tools/call": return target.map(mcp.tools.matches) ?? false
    case "resources/read": return target.map(mcp.resources.matches) ?? false
    case "prompts/get": return target.map(mcp.prompts.matches) ?? false
    case "initialize", "ping": return true
    default: return method.hasPrefix("notifications/") || mcp.methods.matches(method)
    }
  }

  static func isValidMethod(_ method: String) -> Bool {
    !method.isEmpty && method.utf8.count <= 32
      && method.utf8.allSatisfy { ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) || $0 == UInt8(ascii: "-") }
  }

  /// Chain ids are logged, so only well-formed ones are taken.
  static func isValidChainID(_ value: String) -> Bool {
    !value.isEmpty && value.utf8.count <= 128
      && value.utf8.allSatisfy {
        DNSName.isLowerAlnum($0) || ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z"))
          || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: ":")
      }
  }

  /// The external host of an egress check: the HTTP host, else the TLS SNI, else the
  /// destination service; lowercased, without port or trailing dot.
  static func externalHost(_ request: GovernedRequest) -> String {
    var host = request.http?.host ?? ""
    if host.isEmpty { host = request.tlsServerName }
    if host.isEmpty { host = request.destinationService }
    host = host.lowercased()
    if host.hasPrefix("[") {
      if let close = host.firstIndex(of: "]") { host = String(host[host.index(after: host.startIndex)..<close]) }
    } else if let colon = host.lastIndex(of: ":"), host.firstIndex(of: ":") == colon {
      host = String(host[..<colon])
    }
    if host.hasSuffix(".") { host.removeLast() }
    return host
  }
}

/// The state of one run through the pipeline.
struct Evaluation {
  let request: GovernedRequest
  let tracing: Bool
  var decision: Decision
  var finished = false
  /// The policy's delegation chain header, once a snapshot is known.
  var chainHeader = "x-remit-delegation-chain-id"

  init(request: GovernedRequest, tracing: Bool) {
    self.request = request
    self.tracing = tracing
    decision = Decision(sourcePrincipal: request.sourcePrincipal)
  }

  mutating func note(_ step: String, _ outcome: String, _ detail: @autoclosure () -> String) {
    if tracing { decision.trace.append(.init(step: step, outcome: outcome, detail: detail())) }
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
    decision.headersToRemove = http.headers.keys.filter { $0.hasPrefix("x-remit-") && $0 != chainHeader }.sorted()
  }

  /// Applies observe mode and returns the decision.
  mutating func finish() -> Decision {
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
    return decision
  }
}
