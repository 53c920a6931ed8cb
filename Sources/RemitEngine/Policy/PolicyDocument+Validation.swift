extension PolicyDocument {
  /// Built-in DLP detector ids (SPEC section 3). Stable API.
  public static let builtInDetectorIDs: [String] = [
    "credit_card", "us_ssn", "iban", "email", "phone", "aws_access_key", "github_token", "slack_token",
    "stripe_key", "google_api_key", "openai_key", "anthropic_key", "private_key", "jwt", "generic_secret",
  ]

  /// Checks every rule of the document and throws all issues found, each with its path.
  public func validate() throws(PolicyError) {
    var validator = PolicyValidator()
    validator.check(self)
    if !validator.issues.isEmpty {
      throw PolicyError(code: "policy_invalid", issues: validator.issues)
    }
  }
}

/// Validation rules shared by the policy loader, the API and the dashboard.
public enum PolicyRules {
  /// Secret names and authorizer instance ids: 1-128 characters of `[A-Za-z0-9._-]`. One rule for
  /// the policy loader, the control plane's API and `remit serve`'s options.
  public static func nameTokenProblem(_ value: String) -> String? {
    let valid =
      (1...128).contains(value.utf8.count)
      && value.utf8.allSatisfy { byte in
        DNSName.isLowerAlnum(byte) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
          || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
      }
    return valid ? nil : "must be 1-128 characters of A-Z, a-z, 0-9, ., _ and -"
  }

  /// Agent and mission ids: 1-128 of `[A-Za-z0-9._-]`, starting and ending with a letter or digit.
  public static func identifierProblem(_ value: String) -> String? {
    let bytes = Array(value.utf8)
    if bytes.isEmpty { return "must not be empty" }
    if bytes.count > 128 { return "must be at most 128 characters" }
    let isAlnum: (UInt8) -> Bool = { byte in
      DNSName.isLowerAlnum(byte) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }
    guard
      bytes.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") })
    else { return "must consist of letters, digits, '.', '-' and '_'" }
    guard let first = bytes.first, let last = bytes.last, isAlnum(first), isAlnum(last) else {
      return "must start and end with a letter or digit"
    }
    return nil
  }

  /// A mesh identity binding: both fields or neither. Returns (field, message) pairs, where
  /// field is `namespace` or `serviceAccount`.
  public static func meshIdentityProblems(namespace: String?, serviceAccount: String?) -> [(
    field: String, message: String
  )] {
    let namespace = namespace.flatMap { $0.isEmpty ? nil : $0 }
    let serviceAccount = serviceAccount.flatMap { $0.isEmpty ? nil : $0 }
    var problems: [(String, String)] = []
    switch (namespace, serviceAccount) {
    case (nil, nil):
      break
    case (.some, nil):
      problems.append(("serviceAccount", "is required when namespace is set (set both or neither)"))
    case (nil, .some):
      problems.append(("namespace", "is required when serviceAccount is set (set both or neither)"))
    case (.some(let namespace), .some(let serviceAccount)):
      if let problem = DNSName.labelProblem(namespace) { problems.append(("namespace", problem)) }
      if let problem = DNSName.subdomainProblem(serviceAccount) { problems.append(("serviceAccount", problem)) }
    }
    return problems
  }

  /// An exact workload `namespace/serviceAccount`.
  public static func workloadProblem(_ value: String) -> String? {
    let parts = value.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 2 else { return "must be namespace/serviceAccount" }
    if let problem = DNSName.labelProblem(parts[0]) { return "namespace \(problem)" }
    if let problem = DNSName.subdomainProblem(parts[1]) { return "service account \(problem)" }
    return nil
  }

  /// A destination pattern: `namespace/serviceAccount` where either side may contain `*`.
  public static func workloadPatternProblem(_ value: String) -> String? {
    let parts = value.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
      return "must be namespace/serviceAccount (either side may use *)"
    }
    if parts[0].contains("*") || parts[1].contains("*") {
      let allowed = parts[0].utf8.allSatisfy(isPatternByte) && parts[1].utf8.allSatisfy(isPatternByte)
      return allowed ? nil : "must consist of lower case letters, digits, '-', '.' and '*'"
    }
    return workloadProblem(value)
  }

  /// Headers Envoy or HTTP own, which neither a credential nor the chain may use.
  public static func reservedHeaderProblem(_ value: String) -> String? {
    let reserved: Set<String> = [
      "host", "content-length", "content-type", "content-encoding", "transfer-encoding", "connection", "te",
      "upgrade", "keep-alive", "proxy-connection", "trailer", "x-remit-decision-id", "x-remit-reason",
    ]
    if reserved.contains(value) || value.hasPrefix("x-envoy-") {
      return "is a header Envoy or HTTP itself uses; choose another"
    }
    return nil
  }

  /// A lowercase HTTP header name.
  public static func headerNameProblem(_ value: String) -> String? {
    let bytes = Array(value.utf8)
    if bytes.isEmpty || bytes.count > 128 { return "must be 1 to 128 characters" }
    let valid = bytes.allSatisfy {
      DNSName.isLowerAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")
    }
    return valid ? nil : "must be a lower case header name of letters, digits, '-' and '_'"
  }

  /// An egress host: a lowercase DNS name, `*.` followed by one, or an IP literal.
  public static func egressHostProblem(_ value: String) -> String? {
    if IPAddress(value) != nil { return nil }
    let name = value.hasPrefix("*.") ? String(value.dropFirst(2)) : value
    if let problem = DNSName.subdomainProblem(name) {
      return "must be a host name, *.domain or an IP address: \(problem)"
    }
    return nil
  }

  /// An HTTP path glob.
  public static func pathGlobProblem(_ value: String) -> String? {
    guard value.hasPrefix("/") else { return "must start with /" }
    guard value.utf8.count <= 1024 else { return "must be at most 1024 characters" }
    if value.contains("?") || value.contains("#") { return "must not contain a query or fragment" }
    for segment in value.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
    where segment.contains("**") && segment != "**" {
      return "** must be a whole segment"
    }
    if value.utf8.contains(where: { $0 < 0x21 || $0 > 0x7E || $0 == UInt8(ascii: "\\") }) {
      return "must be printable ASCII without spaces or backslashes"
    }
    return nil
  }

  /// A name glob for tools, resources, prompts and methods.
  public static func nameGlobProblem(_ value: String) -> String? {
    if value.isEmpty { return "must not be empty" }
    if value.utf8.count > 512 { return "must be at most 512 characters" }
    return nil
  }

  private static func isPatternByte(_ byte: UInt8) -> Bool {
    DNSName.isLowerAlnum(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "*")
  }
}

/// Collects issues while walking a document.
struct PolicyValidator {
  var issues: [PolicyIssue] = []

  mutating func report(_ path: String, _ message: String) {
    issues.append(PolicyIssue(path: path, message: message))
  }

  mutating func check(_ document: PolicyDocument) {
    if document.apiVersion != PolicyDocument.apiVersionV1 {
      report("apiVersion", "must be \(PolicyDocument.apiVersionV1)")
    }
    if document.kind != PolicyDocument.kindPolicy {
      report("kind", "must be \(PolicyDocument.kindPolicy)")
    }
    if let name = document.metadata?.name, name.isEmpty || name.utf8.count > 253 {
      report("metadata.name", "must be 1 to 253 characters")
    }
    if let settings = document.settings { check(settings) }
    let missionIDs = checkMissions(
      document.missions ?? [],
      chainHeader: document.settings?.delegation?.header ?? PolicySnapshot.defaultChainHeader)
    checkAgents(document.agents ?? [], missionIDs: missionIDs)
    if let dlp = document.dlp { check(dlp) }
    if let threatIntel = document.threatIntel { check(threatIntel) }
    if let aibom = document.aibom { check(aibom) }
  }

  mutating func check(_ settings: PolicyDocument.Settings) {
    if let domains = settings.trustDomains {
      if domains.isEmpty { report("settings.trustDomains", "must list at least one trust domain") }
      for (index, domain) in domains.enumerated() where !WorkloadIdentity.isValidTrustDomain(domain) {
        report("settings.trustDomains[\(index)]", "must be lower case [a-z0-9._-], 1 to 255 characters")
      }
    }
    for (index, namespace) in (settings.a2aNamespaces ?? []).enumerated() {
      if let problem = DNSName.labelProblem(namespace) { report("settings.a2aNamespaces[\(index)]", problem) }
    }
    for (index, gateway) in (settings.egressGateways ?? []).enumerated() {
      if let problem = PolicyRules.workloadProblem(gateway) { report("settings.egressGateways[\(index)]", problem) }
    }
    if let delegation = settings.delegation {
      if let header = delegation.header {
        if let problem = PolicyRules.headerNameProblem(header) {
          report("settings.delegation.header", problem)
        } else if let problem = PolicyRules.reservedHeaderProblem(header) {
          report("settings.delegation.header", problem)
        }
      }
      if let depth = delegation.maxDepth, !(1...DelegationHop.maximumMaxDepth).contains(depth) {
        report("settings.delegation.maxDepth", "must be 1 to \(DelegationHop.maximumMaxDepth)")
      }
      if let ttl = delegation.ttlSeconds, !(1...DelegationHop.maximumTTLSeconds).contains(ttl) {
        report("settings.delegation.ttlSeconds", "must be 1 to \(DelegationHop.maximumTTLSeconds)")
      }
    }
  }

  mutating func check(_ credentials: [PolicyDocument.CredentialRule], path: String, chainHeader: String) {
    var destinations: [String: Int] = [:]
    for (index, rule) in credentials.enumerated() {
      let rulePath = "\(path)[\(index)]"
      if let problem = PolicyRules.workloadPatternProblem(rule.to) { report("\(rulePath).to", problem) }
      if let first = destinations[rule.to] {
        report("\(rulePath).to", "duplicates \(path)[\(first)].to \"\(rule.to)\"; one credential per destination")
      } else {
        destinations[rule.to] = index
      }
      switch (rule.mint, rule.secret) {
      case (nil, nil), (.some, .some):
        report(rulePath, "must have exactly one of mint or secret")
      case (.some(let mint), nil):
        if let ttl = mint.ttlSeconds, !(1...CredentialPlan.maximumMintTTLSeconds).contains(ttl) {
          report("\(rulePath).mint.ttlSeconds", "must be 1 to \(CredentialPlan.maximumMintTTLSeconds)")
        }
        if let scheme = mint.scheme {
          let valid =
            (1...32).contains(scheme.utf8.count)
            && scheme.utf8.allSatisfy { DNSName.isLowerAlnum($0) || ($0 >= 65 && $0 <= 90) || $0 == UInt8(ascii: "-") }
          if !valid { report("\(rulePath).mint.scheme", "must be 1-32 letters, digits and '-' (such as Bearer)") }
        }
        checkInjectedHeader(
          mint.header ?? CredentialPlan.defaultMintHeader, path: "\(rulePath).mint.header", chainHeader: chainHeader)
      case (nil, .some(let secret)):
        if let problem = PolicyRules.nameTokenProblem(secret.name) { report("\(rulePath).secret.name", problem) }
        checkInjectedHeader(secret.header, path: "\(rulePath).secret.header", chainHeader: chainHeader)
      }
    }
  }

  mutating func checkInjectedHeader(_ header: String, path: String, chainHeader: String) {
    if let problem = PolicyRules.headerNameProblem(header) {
      report(path, problem)
    } else if let problem = PolicyRules.reservedHeaderProblem(header) {
      report(path, problem)
    } else if header == chainHeader {
      report(path, "is the delegation chain header; a credential cannot replace it")
    }
  }

  /// Returns the set of mission ids.
  mutating func checkMissions(_ missions: [PolicyDocument.Mission], chainHeader: String) -> Set<String> {
    var ids: [String: Int] = [:]
    for (index, mission) in missions.enumerated() {
      let path = "missions[\(index)]"
      if let problem = PolicyRules.identifierProblem(mission.id) {
        report("\(path).id", problem)
      } else if let first = ids[mission.id] {
        report("\(path).id", "duplicates missions[\(first)].id \"\(mission.id)\"")
      } else {
        ids[mission.id] = index
      }
      if let description = mission.description, description.utf8.count > 4096 {
        report("\(path).description", "must be at most 4096 characters")
      }
      for (grantIndex, grant) in (mission.allow ?? []).enumerated() {
        check(grant, path: "\(path).allow[\(grantIndex)]")
      }
      for (hostIndex, host) in (mission.egress ?? []).enumerated() {
        if let problem = PolicyRules.egressHostProblem(host) { report("\(path).egress[\(hostIndex)]", problem) }
      }
      if let credentials = mission.credentials {
        check(credentials, path: "\(path).credentials", chainHeader: chainHeader)
      }
    }
    return Set(ids.keys)
  }

  mutating func check(_ grant: PolicyDocument.Grant, path: String) {
    if let problem = PolicyRules.workloadPatternProblem(grant.to) { report("\(path).to", problem) }
    if let mcp = grant.mcp {
      checkNames(mcp.tools, path: "\(path).mcp.tools")
      checkNames(mcp.resources, path: "\(path).mcp.resources")
      checkNames(mcp.prompts, path: "\(path).mcp.prompts")
      checkNames(mcp.methods, path: "\(path).mcp.methods")
    }
    if let a2a = grant.a2a { checkNames(a2a.methods, path: "\(path).a2a.methods") }
    for (ruleIndex, rule) in (grant.http ?? []).enumerated() {
      let rulePath = "\(path).http[\(ruleIndex)]"
      for (methodIndex, method) in (rule.methods ?? []).enumerated() {
        let valid =
          !method.isEmpty && method.utf8.count <= 32
          && method.utf8.allSatisfy { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }
        if !valid { report("\(rulePath).methods[\(methodIndex)]", "must be an upper case HTTP method such as GET") }
      }
      if let paths = rule.paths, paths.isEmpty { report("\(rulePath).paths", "must list at least one path") }
      for (pathIndex, pathGlob) in (rule.paths ?? []).enumerated() {
        if let problem = PolicyRules.pathGlobProblem(pathGlob) { report("\(rulePath).paths[\(pathIndex)]", problem) }
      }
    }
  }

  mutating func checkNames(_ names: [String]?, path: String) {
    for (index, name) in (names ?? []).enumerated() {
      if let problem = PolicyRules.nameGlobProblem(name) { report("\(path)[\(index)]", problem) }
    }
  }

  mutating func checkAgents(_ agents: [PolicyDocument.Agent], missionIDs: Set<String>) {
    var ids: [String: Int] = [:]
    var identities: [String: Int] = [:]
    for (index, agent) in agents.enumerated() {
      let path = "agents[\(index)]"
      if let problem = PolicyRules.identifierProblem(agent.id) {
        report("\(path).id", problem)
      } else if let first = ids[agent.id] {
        report("\(path).id", "duplicates agents[\(first)].id \"\(agent.id)\"")
      } else {
        ids[agent.id] = index
      }
      if let description = agent.description, description.utf8.count > 4096 {
        report("\(path).description", "must be at most 4096 characters")
      }
      if let mission = agent.mission, !missionIDs.contains(mission) {
        report("\(path).mission", "names mission \"\(mission.policyErrorExcerpt)\", which is not defined in missions")
      }
      guard let identity = agent.meshIdentity else { continue }
      let problems = PolicyRules.meshIdentityProblems(
        namespace: identity.namespace,
        serviceAccount: identity.serviceAccount
      )
      for problem in problems { report("\(path).meshIdentity.\(problem.field)", problem.message) }
      if problems.isEmpty, let namespace = identity.namespace, let serviceAccount = identity.serviceAccount,
        !namespace.isEmpty
      {
        let key = "\(namespace)/\(serviceAccount)"
        if let first = identities[key] {
          report(
            "\(path).meshIdentity",
            "\(key) is already bound to agent \"\(agents[first].id)\" (agents[\(first)]); one agent per identity"
          )
        } else {
          identities[key] = index
        }
      }
    }
  }
}

extension PolicyValidator {
  static let maximumCustomDetectors = 256
  static let maximumIndicators = 200_000
  static let maximumComponents = 100_000

  mutating func check(_ dlp: PolicyDocument.DLP) {
    for id in (dlp.detectors ?? [:]).keys.sorted() where DLPDetector(rawValue: id) == nil {
      let known = DLPDetector.allCases.map(\.rawValue).joined(separator: ", ")
      report("dlp.detectors.\(id.policyErrorExcerpt)", "is not a built-in detector; expected one of: \(known)")
    }
    let custom = dlp.custom ?? []
    if custom.count > Self.maximumCustomDetectors {
      report("dlp.custom", "must list at most \(Self.maximumCustomDetectors) detectors")
    }
    var ids: [String: Int] = [:]
    for (index, detector) in custom.prefix(Self.maximumCustomDetectors).enumerated() {
      let path = "dlp.custom[\(index)]"
      if let problem = PolicyRules.identifierProblem(detector.id) {
        report("\(path).id", problem)
      } else if DLPDetector(rawValue: detector.id) != nil {
        report("\(path).id", "\"\(detector.id)\" is a built-in detector id; choose another")
      } else if let first = ids[detector.id] {
        report("\(path).id", "duplicates dlp.custom[\(first)].id \"\(detector.id)\"")
      } else {
        ids[detector.id] = index
      }
      do {
        _ = try DLPCustomRule(
          id: detector.id,
          keywords: detector.keywords ?? [],
          pattern: detector.pattern,
          validator: detector.validator.flatMap { DLPValidator(rawValue: $0.rawValue) }
        )
      } catch  where error.code.hasPrefix("dlp_custom_id") {
        // Reported above with the policy's own identifier rules.
      } catch {
        let field = error.code.contains("keyword") ? "keywords" : "pattern"
        report("\(path).\(field)", error.message)
      }
    }
  }

  mutating func check(_ threatIntel: PolicyDocument.ThreatIntel) {
    let indicators = threatIntel.indicators ?? []
    if indicators.count > Self.maximumIndicators {
      report("threatIntel.indicators", "must list at most \(Self.maximumIndicators) indicators")
      return
    }
    var reported = 0
    for (index, indicator) in indicators.enumerated() {
      guard let problem = PolicyRules.indicatorProblem(indicator) else { continue }
      report("threatIntel.indicators[\(index)].value", problem)
      reported += 1
      // A bad feed must not produce a million-line error.
      if reported >= 100 {
        report("threatIntel.indicators", "more problems not listed")
        break
      }
    }
  }

  mutating func check(_ aibom: PolicyDocument.AIBOM) {
    let components = aibom.components ?? []
    if components.count > Self.maximumComponents {
      report("aibom.components", "must list at most \(Self.maximumComponents) components")
      return
    }
    for (index, component) in components.enumerated() {
      let path = "aibom.components[\(index)]"
      if let problem = PolicyRules.workloadPatternProblem(component.to) { report("\(path).to", problem) }
      if let tool = component.tool, let problem = PolicyRules.nameGlobProblem(tool) { report("\(path).tool", problem) }
      for (field, value) in [("publisher", component.publisher), ("version", component.version)] {
        guard let value else { continue }
        if value.isEmpty || value.utf8.count > 128
          || value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        {
          report("\(path).\(field)", "must be 1 to 128 printable characters")
        }
      }
    }
  }
}
