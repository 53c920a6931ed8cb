/// What step 4 (mission scope) established, for the content checks that follow.
struct ScopeResult {
  let agent: CompiledAgent
  let mission: CompiledMission
  let destination: WorkloadIdentity
  /// The external host of an egress check.
  let externalHost: String?
}

/// Steps 6 to 9 of the pipeline (SPEC section 5): threat intel, injection heuristics, DLP, AIBOM,
/// then allow. They run only once the request is within the mission's scope.
extension DecisionEngine {
  func inspectContent(_ run: inout Evaluation, scope: ScopeResult, snapshot: PolicySnapshot) {
    // 5. Delegation, and the credential the request will get.
    guard prepareDelegation(&run, scope: scope, snapshot: snapshot) else { return }
    let content = snapshot.content
    let http = run.request.http

    // The body is read once (truncation policy, decoding, JSON) for every check that needs it.
    var body: [UInt8] = []
    if content.inspectsBody, let http, !http.body.isEmpty {
      guard let read = readBody(&run, http: http, snapshot: snapshot) else { return }
      body = read
      if http.hasJSONContentType {
        // A JSON body the authorizer cannot parse is one it cannot inspect: deny, do not guess.
        guard let tape = readJSON(&run, http: http, snapshot: snapshot) else { return }
        if run.payload == nil, JSONRPCPayload.looksLikeJSONRPC(tape) {
          do {
            run.payload = try JSONRPCPayload(tape: tape)
          } catch {
            return run.deny(.bodyMalformed, step: "body", "invalid JSON-RPC: \(error)")
          }
        }
      }
    }
    let payload = run.payload
    if let payload, run.decision.rpcMethod == nil, let first = payload.messages.first {
      run.decision.rpcMethod = first.method
      if first.method == "tools/call" || first.method == "prompts/get" {
        run.decision.tool = payload.paramString(first, "name" as StaticString)
      }
    }
    // Only threat intel and the injection heuristics read tool names and argument strings.
    let readsArguments = content.threats != nil || content.injection != nil
    let toolNames = readsArguments ? payload.map(Self.toolNames) ?? [] : []
    let argumentRanges = readsArguments ? Self.argumentRanges(tape: run.tape, payload: payload) : []

    // 6. Threat intel on the tool, the host and URL or hash arguments; injection heuristics on the
    // tool identity and the arguments. One walk over the argument strings serves both; a threat
    // match anywhere wins over an injection signal, as if threat intel ran first.
    var threatFound = content.threats.flatMap { threatMatch($0, run: run, scope: scope, tools: toolNames) }
    var injectionFound: (InjectionSignal, String)? = nil
    if content.injection != nil {
      for tool in toolNames {
        if let signal = content.injectionDetector.inspect(tool) {
          injectionFound = (signal, "tool")
          break
        }
      }
    }
    if threatFound == nil, let tape = run.tape,
      content.hasThreats || (content.injection != nil && injectionFound == nil)
    {
      let walk = walkArguments(
        tape, ranges: argumentRanges, collectsThreatCandidates: content.hasThreats,
        injection: content.injection == nil || injectionFound != nil ? nil : content.injectionDetector)
      if let found = walk.injection { injectionFound = found }
      if let threats = content.threats {
        for candidate in walk.threatCandidates {
          let value = tape.string(candidate.index)
          if let match = candidate.kind == .url ? threats.matchURL(value) : threats.matchHash(value) {
            threatFound = (match, tape.location(of: candidate.index))
            break
          }
        }
      }
    }
    if content.threats != nil {
      if let (match, location) = threatFound {
        let finding = "\(ReasonCode.threatIntelMatch.rawValue):\(match.type.rawValue):\(match.indicator)@\(location)"
        run.addFinding(finding, limit: configuration.maximumFindings)
        return run.deny(
          .threatIntelMatch,
          step: "threat_intel",
          "\(location) matches \(match.type.rawValue) indicator \(match.indicator.policyErrorExcerpt) (severity \(match.severity.rawValue)\(match.source.map { ", source \($0.policyErrorExcerpt)" } ?? ""))"
        )
      }
      run.note("threat_intel", "ok", "no indicator matched")
    }
    if let action = content.injection {
      if let (signal, location) = injectionFound {
        let finding = "\(ReasonCode.injectionDetected.rawValue):\(signal.heuristic.rawValue)@\(location)"
        run.addFinding(finding, limit: configuration.maximumFindings)
        if action == .block {
          return run.deny(.injectionDetected, step: "injection", "\(signal.heuristic.rawValue) in \(location)")
        }
        run.note("injection", "log", "\(signal.heuristic.rawValue) in \(location) (injection: log)")
      } else {
        run.note("injection", "ok", "no heuristic fired")
      }
    }

    // 7. DLP on the body (and on JSON strings once their escapes are decoded).
    if let scanner = content.dlp, !body.isEmpty {
      let (hits, capped) = dlpHits(scanner, body: body, tape: run.tape, limit: 64)
      var strongest: (action: DLPAction, finding: String)?
      func weigh(_ hit: DLPHit, logging: Bool) {
        let action = content.dlpActions[hit.detector] ?? .block
        let finding = "dlp_\(action.rawValue):\(hit.detector)@\(hit.location)"
        if action == .log, logging { run.addFinding(finding, limit: configuration.maximumFindings) }
        if action == .block, strongest?.action != .block { strongest = (action, finding) }
        if action == .redact, strongest == nil { strongest = (action, finding) }
      }
      for hit in hits { weigh(hit, logging: true) }
      // The scan stopped at its cap with only log findings: what blocks may lie beyond it.
      if strongest == nil, capped, let enforcing = content.dlpEnforcing {
        for hit in dlpHits(enforcing, body: body, tape: run.tape, limit: 64).hits { weigh(hit, logging: false) }
      }
      if let strongest {
        run.addFinding(strongest.finding, limit: configuration.maximumFindings + 1)
        let reason: ReasonCode = strongest.action == .block ? .dlpBlock : .dlpRedact
        let why =
          strongest.action == .redact
          ? "; the mesh authorizer cannot rewrite a body on the wire, so redact fails closed" : ""
        return run.deny(reason, step: "dlp", "\(strongest.finding)\(why)")
      }
      run.note("dlp", "ok", "\(hits.count) logged finding(s)")
    }

    // 8. AIBOM: advisory.
    if let component = content.component(destination: scope.destination, tool: run.decision.tool) {
      run.decision.component = component
      run.note(
        "aibom", "ok",
        "component \(component.publisher ?? "-") \(component.version ?? "-") risk \(component.risk?.rawValue ?? "unknown")"
      )
    }

    // 9. Allow.
    run.allow(snapshot: snapshot)
  }

  static func toolNames(_ payload: JSONRPCPayload) -> [String] {
    payload.messages.compactMap { message in
      guard message.method == "tools/call" || message.method == "prompts/get" else { return nil }
      return payload.paramString(message, "name" as StaticString)
    }
  }

  /// The tape nodes that hold arguments: each message's `params` for JSON-RPC, the whole
  /// document for another JSON body.
  static func argumentRanges(tape: JSONTape?, payload: JSONRPCPayload?) -> [Range<Int>] {
    guard let tape, !tape.nodes.isEmpty else { return [] }
    guard let payload else { return [tape.root..<Int(tape[tape.root].next)] }
    return payload.messages.compactMap { message in message.params.map { $0..<Int(tape[$0].next) } }
  }

  /// Calls `visit` with each string node (keys included) in `ranges`, decoded; stops when it
  /// returns false.
  static func forEachString(
    in tape: JSONTape,
    ranges: [Range<Int>],
    _ visit: (Int, UnsafeBufferPointer<UInt8>) -> Bool
  ) {
    // On the buffers: this walks every node of the arguments for each check that reads them.
    tape.bytes.withUnsafeBufferPointer { bytes in
      tape.nodes.withUnsafeBufferPointer { nodes in
        for range in ranges {
          for index in range.clamped(to: 0..<nodes.count) where nodes[index].kind == .string {
            let node = nodes[index]
            let raw = bytes[Int(node.start)..<Int(node.end)]
            let keepGoing: Bool
            if node.escaped {
              keepGoing = JSONTape.unescape(tape.bytes[Int(node.start)..<Int(node.end)]).withUnsafeBufferPointer {
                visit(index, $0)
              }
            } else {
              keepGoing = visit(index, UnsafeBufferPointer(rebasing: raw))
            }
            if !keepGoing { return }
          }
        }
      }
    }
  }

  /// Threat intel on the tool names and the destination or egress host (the argument strings
  /// are looked up in `walkArguments`).
  private func threatMatch(
    _ threats: ThreatIndex,
    run: Evaluation,
    scope: ScopeResult,
    tools: [String]
  ) -> (ThreatMatch, String)? {
    for tool in tools {
      if let match = threats.matchTool(tool) { return (match, "tool") }
    }
    let http = run.request.http
    if let external = scope.externalHost {
      if let match = threats.matchHost(external) { return (match, "egress host") }
      if let http {
        // The URL as the agent asked for it; without a known scheme, https (what egress mostly is).
        let scheme = http.scheme.lowercased() == "http" ? "http" : "https"
        let url = "\(scheme)://\(external)\(run.decision.path ?? "/")"
        if let match = threats.matchURL(url) { return (match, "egress url") }
      }
    } else if let http {
      // The authority as sent: `matchHost` drops a port and a trailing dot and folds case itself,
      // as `hostWithoutPort` would (ThreatIndexTests ties the two); only a bracketed authority,
      // which `matchHost` reads as an IP literal alone, needs the brackets taken off first.
      let authority = http.host
      let host = authority.utf8.first == UInt8(ascii: "[") ? Self.hostWithoutPort(authority) : authority
      if !host.isEmpty, let match = threats.matchHost(host) { return (match, "destination host") }
    }
    return nil
  }

  /// One walk over the argument strings: every string given to `injection` until the first
  /// signal, and the URL and hex-digest strings noted, in walk order, for the threat lookups
  /// (the first match decides the request, as a walk of its own would find it).
  private func walkArguments(
    _ tape: JSONTape,
    ranges: [Range<Int>],
    collectsThreatCandidates: Bool,
    injection: InjectionDetector?
  ) -> (threatCandidates: [(index: Int, kind: ThreatCandidate)], injection: (InjectionSignal, String)?) {
    var injectionFound: (InjectionSignal, String)? = nil
    var looksForInjection = injection != nil
    var candidates: [(index: Int, kind: ThreatCandidate)] = []
    Self.forEachString(in: tape, ranges: ranges) { index, text in
      if collectsThreatCandidates, let kind = Self.threatCandidate(text) { candidates.append((index, kind)) }
      if looksForInjection, let signal = injection?.inspect(text) {
        injectionFound = (signal, tape.location(of: index))
        looksForInjection = false
        return collectsThreatCandidates
      }
      return true
    }
    return (candidates, injectionFound)
  }

  enum ThreatCandidate { case url, hash }

  /// Only argument strings that look like a URL or a hex digest are looked up.
  static func threatCandidate(_ text: UnsafeBufferPointer<UInt8>) -> ThreatCandidate? {
    let count = text.count
    if count >= 10, count <= 8192 {
      let lower = { (index: Int) in text[index] | 0x20 }
      if lower(0) == UInt8(ascii: "h"), lower(1) == UInt8(ascii: "t"), lower(2) == UInt8(ascii: "t"),
        lower(3) == UInt8(ascii: "p")
      {
        if text[4] == UInt8(ascii: ":") && text[5] == UInt8(ascii: "/") && text[6] == UInt8(ascii: "/") { return .url }
        if lower(4) == UInt8(ascii: "s") && text[5] == UInt8(ascii: ":") && text[6] == UInt8(ascii: "/")
          && text[7] == UInt8(ascii: "/")
        {
          return .url
        }
      }
    }
    if count == 32 || count == 40 || count == 64 || count == 128,
      text.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) })
    {
      return .hash
    }
    return nil
  }

  struct DLPHit {
    var detector: String
    var location: String
  }

  /// One pass over the whole body, then the decoded text of every JSON string that had escapes
  /// (so `\u0034111…` cannot hide a card number). Hits are deduplicated by detector and location.
  /// `capped`: the scan stopped at `limit` matches, so there may be more.
  func dlpHits(_ scanner: DLPScanner, body: [UInt8], tape: JSONTape?, limit: Int) -> (hits: [DLPHit], capped: Bool) {
    var matches: [DLPMatch] = []
    body.withUnsafeBufferPointer { scanner.scan($0, into: &matches, limit: limit) }
    if matches.count >= limit { return (Self.uniqueHits(matches, tape: tape), true) }
    var hits: [DLPHit] = []
    var seen: Set<String> = []
    func add(_ detector: String, _ location: String) {
      if seen.insert("\(detector)@\(location)").inserted { hits.append(DLPHit(detector: detector, location: location)) }
    }
    for match in matches {
      let location = tape.flatMap { tape in tape.node(containing: match.offset).map { tape.location(of: $0) } }
      add(match.detector, location ?? "body@\(match.offset)")
    }
    guard let tape, tape.hasEscapedStrings, hits.count < limit else { return (hits, hits.count >= limit) }
    var decodedMatches: [DLPMatch] = []
    Self.forEachString(in: tape, ranges: [0..<tape.nodes.count]) { index, text in
      guard tape[index].escaped else { return true }
      decodedMatches.removeAll(keepingCapacity: true)
      scanner.scan(text, into: &decodedMatches, limit: limit - hits.count)
      if !decodedMatches.isEmpty {
        let location = tape.location(of: index)
        for match in decodedMatches { add(match.detector, location) }
      }
      return hits.count < limit
    }
    return (hits, hits.count >= limit)
  }

  static func uniqueHits(_ matches: [DLPMatch], tape: JSONTape?) -> [DLPHit] {
    var hits: [DLPHit] = []
    var seen: Set<String> = []
    for match in matches {
      let location = tape.flatMap { tape in tape.node(containing: match.offset).map { tape.location(of: $0) } }
      if seen.insert("\(match.detector)@\(location ?? "body@\(match.offset)")").inserted {
        hits.append(DLPHit(detector: match.detector, location: location ?? "body@\(match.offset)"))
      }
    }
    return hits
  }
}
