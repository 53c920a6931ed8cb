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
    /// Bounds on decoding gzip and deflate bodies.
    public var bodyDecoding: BodyDecoder.Limits
    /// At most this many findings are recorded on one decision.
    public var maximumFindings: Int

    public init(
      jsonLimits: JSONTape.Limits = .init(),
      maximumJSONBodyBytes: Int = 4 << 20,
      envoyMaxRequestBytes: Int = 65536,
      bodyDecoding: BodyDecoder.Limits = .init(),
      maximumFindings: Int = 16
    ) {
      self.jsonLimits = jsonLimits
      self.maximumJSONBodyBytes = maximumJSONBodyBytes
      self.envoyMaxRequestBytes = envoyMaxRequestBytes
      self.bodyDecoding = bodyDecoding
      self.maximumFindings = maximumFindings
    }
  }

  public let configuration: Configuration

  public init(configuration: Configuration = .init()) {
    self.configuration = configuration
  }

  public func decide(_ request: GovernedRequest, snapshot: PolicySnapshot?, trace: Bool = false) -> Decision {
    var evaluation = Evaluation(request: request, tracing: trace)
    evaluate(&evaluation, snapshot: snapshot)
    evaluation.applyMode()
    // Completed in place: the decision is a large value, and every copy of it retains its strings.
    if evaluation.decision.verdict == .deny && evaluation.decision.jsonRPC == nil {
      evaluation.decision.jsonRPC =
        evaluation.payload.map { .init(isBatch: $0.isBatch, ids: $0.messages.compactMap(\.idJSON)) }
        ?? replyContext(for: request)
    }
    // An early denial (identity) still tells the operator what the caller tried to reach.
    if evaluation.decision.destination == nil,
      case .success(let destination) = WorkloadIdentity.parse(request.destinationPrincipal)
    {
      evaluation.decision.destination = destination.workload
    }
    if evaluation.decision.method == nil, let method = request.http?.method, Self.isValidMethod(method) {
      evaluation.decision.method = method
    }
    return evaluation.handOver()
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
    let sourceFacts: PolicySnapshot.IdentityFacts
    switch snapshot.resolve(principal: request.sourcePrincipal) {
    case .success(let resolved): (source, sourceFacts) = resolved
    case .failure(let failure):
      return run.deny(.identityInvalid, step: "identity", "source principal: \(failure.rawValue)")
    }
    guard sourceFacts.inTrustDomains else {
      return run.deny(
        .identityInvalid, step: "identity", "trust domain \(source.trustDomain) is not in settings.trustDomains")
    }
    guard let agent = sourceFacts.agent else {
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
    let destinationFacts: PolicySnapshot.IdentityFacts
    switch snapshot.resolve(principal: request.destinationPrincipal) {
    case .success(let resolved): (destination, destinationFacts) = resolved
    case .failure(let failure):
      let detail = request.destinationPrincipal.isEmpty ? "no destination principal" : failure.rawValue
      return run.deny(.requestInvalid, step: "classify", "destination principal: \(detail)")
    }
    guard destinationFacts.inTrustDomains else {
      return run.deny(.requestInvalid, step: "classify", "destination trust domain is not in settings.trustDomains")
    }
    let kind: RequestKind =
      if destinationFacts.isEgressGateway {
        .egress
      } else if destinationFacts.isA2APeer {
        .a2a
      } else {
        .eastWest
      }
    run.decision.destination = destination.workload
    run.decision.kind = kind
    run.note("classify", "ok", "\(kind.rawValue) to \(destination.workload)")

    // Request hygiene before any match.
    var path = ""
    // A method-override header naming another method: what the upstream may act on instead.
    var overrideMethod: String? = nil
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
      switch Self.methodOverride(http) {
      case .success(let override): overrideMethod = override
      case .failure(let problem): return run.deny(.requestInvalid, step: "request", problem.message)
      }
      // The chain header is an `x-remit-` one unless the policy renames it: mostly no lookup.
      if http.facts.hasRemitHeader || !snapshot.chainHeaderHasRemitPrefix,
        let chain = http.headers[snapshot.chainHeader]
      {
        // A chain id is stored and logged: a malformed one is refused, never ignored.
        guard DelegationHop.isValidChainID(chain) else {
          return run.deny(
            .requestInvalid, step: "request",
            "\(snapshot.chainHeader) must be 1-128 characters of A-Z, a-z, 0-9, ., _, : and -")
        }
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
      // Logged: only a well-formed host name or address, so the log never carries arbitrary text.
      if host.utf8.count <= 253,
        host.utf8.allSatisfy({
          DNSName.isLowerAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: ":")
        })
      {
        run.decision.externalHost = host
      }
      guard mission.allowsEgress(host: host) else {
        return run.deny(.egressHostDenied, step: "scope", "\(host) is not on mission \(mission.id)'s egress list")
      }
      run.note("scope", "ok", "egress to \(host) allowed by mission \(mission.id)")
      return inspectContent(
        &run, scope: .init(agent: agent, mission: mission, destination: destination, externalHost: host),
        snapshot: snapshot)
    }
    let grants = mission.grants(for: destination)
    guard !grants.isEmpty else {
      return run.deny(
        .scopeDestinationDenied,
        step: "scope",
        "mission \(mission.id) does not allow \(destination.workload)"
      )
    }
    let scope = ScopeResult(agent: agent, mission: mission, destination: destination, externalHost: nil)
    if grants.contains(where: \.unrestricted) {
      run.note("scope", "ok", "mission \(mission.id) allows all of \(destination.workload)")
      return inspectContent(&run, scope: scope, snapshot: snapshot)
    }
    guard let http = request.http else {
      return run.deny(
        .scopeRouteDenied, step: "scope", "a TCP connection to \(destination.workload) needs a whole-destination grant")
    }

    if grants.contains(where: \.speaksJSONRPC) && http.hasJSONContentType && !http.body.isEmpty {
      if let overrideMethod {
        return run.deny(
          .requestInvalid, step: "request",
          "a JSON-RPC call may not carry a method-override header (it asks for \(overrideMethod))")
      }
      switch readJSONRPC(&run, http: http, snapshot: snapshot) {
      case .denied:
        return
      case .payload(let payload):
        return checkMessages(&run, payload: payload, grants: grants, scope: scope, snapshot: snapshot)
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
    // The upstream may act on either method, so both must be allowed.
    if let overrideMethod,
      !grants.contains(where: { $0.http.contains { $0.matches(method: overrideMethod, path: path) } })
    {
      return run.deny(
        .scopeRouteDenied,
        step: "scope",
        "mission \(mission.id) allows no \(overrideMethod) route to \(destination.workload) matching the path (asked for by a method-override header)"
      )
    }
    run.note("scope", "ok", "route allowed by mission \(mission.id)")
    inspectContent(&run, scope: scope, snapshot: snapshot)
  }

  enum BodyReading {
    case denied
    case notJSONRPC
    case payload(JSONRPCPayload)
  }

  /// Parses a JSON body as JSON-RPC. `.notJSONRPC` when it is JSON of another shape.
  func readJSONRPC(
    _ run: inout Evaluation,
    http: GovernedRequest.HTTPRequest,
    snapshot: PolicySnapshot
  ) -> BodyReading {
    if let payload = run.payload { return .payload(payload) }
    // A JSON body to a JSON-RPC destination: if the parse fails, answer as JSON-RPC would.
    run.decision.jsonRPC = .init(isBatch: false, ids: ["null"])
    guard let tape = readJSON(&run, http: http, snapshot: snapshot) else { return .denied }
    guard JSONRPCPayload.looksLikeJSONRPC(tape) else {
      run.decision.jsonRPC = nil
      run.note("body", "ok", "JSON body is not JSON-RPC; HTTP rules apply")
      return .notJSONRPC
    }
    do {
      let payload = try JSONRPCPayload(tape: tape)
      run.decision.jsonRPC = .init(isBatch: payload.isBatch, ids: payload.messages.compactMap(\.idJSON))
      run.payload = payload
      return .payload(payload)
    } catch {
      run.deny(.bodyMalformed, step: "body", "invalid JSON-RPC: \(error)")
      return .denied
    }
  }

  /// The body as the checks must see it: truncation handled by `settings.truncatedBody`, and a
  /// gzip or deflate body decoded within bounds. Nil when the request was denied.
  func readBody(_ run: inout Evaluation, http: GovernedRequest.HTTPRequest, snapshot: PolicySnapshot) -> [UInt8]? {
    if let body = run.body { return body }
    let partial = http.bodyIsPartial(maxRequestBytes: configuration.envoyMaxRequestBytes)
    if partial {
      if snapshot.truncatedBody == .deny {
        run.deny(.bodyTruncated, step: "body", "body was cut at Envoy's max_request_bytes")
        return nil
      }
      run.addFinding(ReasonCode.bodyTruncated.rawValue, limit: configuration.maximumFindings)
    }
    var body = http.body
    if let coding = http.contentEncoding {
      // Fail closed: a body that cannot be read must not slip past tool extraction, DLP or injection.
      guard let encoding = BodyDecoder.Encoding(contentEncoding: coding) else {
        run.deny(
          .bodyMalformed, step: "body", "content-encoding \(coding.policyErrorExcerpt) is not supported (gzip, deflate)"
        )
        return nil
      }
      switch BodyDecoder(limits: configuration.bodyDecoding).decode(body, encoding: encoding, acceptTruncated: partial)
      {
      case .success(let decoded):
        run.note("body", "ok", "\(encoding.rawValue) body of \(body.count) bytes decoded to \(decoded.count) bytes")
        body = decoded
      case .failure(let failure):
        run.deny(.bodyMalformed, step: "body", failure.reason)
        return nil
      }
    }
    run.body = body
    return body
  }

  /// The body parsed as JSON (cached). Nil when the request was denied.
  func readJSON(_ run: inout Evaluation, http: GovernedRequest.HTTPRequest, snapshot: PolicySnapshot) -> JSONTape? {
    if let tape = run.tape { return tape }
    guard let body = readBody(&run, http: http, snapshot: snapshot) else { return nil }
    guard body.count <= configuration.maximumJSONBodyBytes else {
      run.deny(.bodyMalformed, step: "body", "JSON body larger than \(configuration.maximumJSONBodyBytes) bytes")
      return nil
    }
    do {
      let tape = try JSONTape(parsing: body, limits: configuration.jsonLimits)
      run.tape = tape
      return tape
    } catch {
      run.deny(.bodyMalformed, step: "body", "malformed JSON: \(error)")
      return nil
    }
  }

  private func checkMessages(
    _ run: inout Evaluation,
    payload: JSONRPCPayload,
    grants: [CompiledGrant],
    scope: ScopeResult,
    snapshot: PolicySnapshot
  ) {
    let mission = scope.mission
    for (index, message) in payload.messages.enumerated() {
      let target = Self.target(of: message, in: payload)
      if index == 0 {
        run.decision.rpcMethod = message.method
        if message.method == "tools/call" || message.method == "prompts/get" { run.decision.tool = target }
      }
      if target == nil, let method = message.method, Self.methodsWithTarget.contains(method) {
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
    inspectContent(&run, scope: scope, snapshot: snapshot)
  }

  static let methodsWithTarget: Set<String> = ["tools/call", "prompts/get", "resources/read"]

  /// The name or URI a message acts on: `params.name` of tools/call and prompts/get,
  /// `params.uri` of resources/read.
  static func target(of message: JSONRPCPayload.Message, in payload: JSONRPCPayload) -> String? {
    switch message.method {
    case "tools/call", "prompts/get": payload.paramString(message, "name" as StaticString)
    case "resources/read": payload.paramString(message, "uri" as StaticString)
    default: nil
    }
  }

  static func grant(_ grant: CompiledGrant, allows message: JSONRPCPayload.Message, target: String?) -> Bool {
    self.grant(grant, allows: message.method, target: target)
  }

  static func grant(_ grant: CompiledGrant, allows method: String?, target: String?) -> Bool {
    if grant.unrestricted { return true }
    guard let method else { return grant.speaksJSONRPC }
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

  /// Headers frameworks read to run a request as another method (Rails, Express, Laravel, Spring,
  /// ASP.NET, Google APIs).
  struct MethodOverrideProblem: Error {
    var message: String
  }

  static let methodOverrideHeaders = ["x-http-method-override", "x-http-method", "x-method-override"]

  /// The method a method-override header asks for, when it differs from the request's own; nil
  /// when there is none. Values are read as frameworks do (trimmed, case-insensitive); one that is
  /// not a method, or headers that disagree, are refused: the upstream's reading cannot be known.
  static func methodOverride(_ http: GovernedRequest.HTTPRequest) -> Result<String?, MethodOverrideProblem> {
    let values = http.facts.methodOverrides
    guard values.0 != nil || values.1 != nil || values.2 != nil else { return .success(nil) }
    var found: String? = nil
    for (index, name) in methodOverrideHeaders.enumerated() {
      guard let value = index == 0 ? values.0 : index == 1 ? values.1 : values.2 else { continue }
      let method = String(value.trimmingOptionalWhitespace()).uppercased()
      guard isValidMethod(method) else {
        return .failure(MethodOverrideProblem(message: "\(name) does not name an HTTP method"))
      }
      if let found, found != method {
        return .failure(MethodOverrideProblem(message: "method-override headers name different methods"))
      }
      found = method
    }
    guard let found, found != http.method else { return .success(nil) }
    return .success(found)
  }

  static func isValidMethod(_ method: String) -> Bool {
    !method.isEmpty && method.utf8.count <= 32
      && method.utf8.allSatisfy { ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) || $0 == UInt8(ascii: "-") }
  }

  /// The external host of an egress check: the HTTP host, else the TLS SNI, else the
  /// destination service; lowercased, without port or trailing dot.
  static func externalHost(_ request: GovernedRequest) -> String {
    var host = request.http?.host ?? ""
    if host.isEmpty { host = request.tlsServerName }
    if host.isEmpty { host = request.destinationService }
    return hostWithoutPort(host)
  }

  /// An authority lowercased, without port, brackets or trailing dot.
  static func hostWithoutPort(_ authority: String) -> String {
    // The usual case, a lower-case name without port or trailing dot, is returned as is: no copy.
    var bytes = authority
    let plain = bytes.withUTF8 { utf8 in
      guard let last = utf8.last, last != UInt8(ascii: ".") else { return false }
      for byte in utf8 where !(DNSName.isLowerAlnum(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")) {
        return false
      }
      return true
    }
    if plain { return authority }
    var host = authority.lowercased()
    if host.hasPrefix("[") {
      if let close = host.firstIndex(of: "]") { host = String(host[host.index(after: host.startIndex)..<close]) }
    } else if let colon = host.lastIndex(of: ":"), host.firstIndex(of: ":") == colon {
      host = String(host[..<colon])
    }
    if host.hasSuffix(".") { host.removeLast() }
    return host
  }
}
