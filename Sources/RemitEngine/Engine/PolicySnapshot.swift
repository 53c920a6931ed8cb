#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A validated policy compiled for the hot path: identity → agent and destination → grants are
/// dictionary lookups, and every glob is compiled once. Immutable; swapped whole on change.
public final class PolicySnapshot: Sendable {
  public let document: PolicyDocument
  public let version: String
  public let name: String

  let trustDomains: Set<String>
  let unmappedIdentity: UnmappedIdentityAction
  let truncatedBody: TruncatedBodyAction
  let a2aNamespaces: Set<String>
  let egressGateways: Set<String>
  let chainHeader: String
  /// Whether `chainHeader` starts with `x-remit-` (then a request without such a header has none).
  let chainHeaderHasRemitPrefix: Bool
  let maxDepth: Int
  let escalation: EscalationMode
  let chainTTLSeconds: Int
  /// `namespace/serviceAccount` → agent.
  let agentsByWorkload: [String: CompiledAgent]
  /// The principals the policy names (agents, exact grant destinations, egress gateways) under
  /// each trust domain, parsed once at compile time: every decision parses its source and its
  /// destination, and a dictionary probe costs a tenth of a parse.
  let knownIdentities: [PrincipalKey: KnownIdentity]
  /// Agent id → agent, bound or not: delegation chains name their members by id.
  let agentsByID: [String: CompiledAgent]
  /// Every header some mission's `credentials` injects, by destination pattern. A caller's copy
  /// of one is removed on the way to that destination, whoever calls (SPEC section 7).
  let injectedHeaders: [(pattern: WorkloadPattern, header: String)]
  let content: ContentPolicy

  public var agentCount: Int { document.agents?.count ?? 0 }

  /// Compiles a validated document. Throws if it does not validate.
  public init(_ document: PolicyDocument) throws(PolicyError) {
    try document.validate()
    self.document = document
    version = document.metadata?.version?.value ?? "0"
    name = document.metadata?.name ?? ""
    let settings = document.settings
    trustDomains = Set(settings?.trustDomains ?? ["cluster.local"])
    unmappedIdentity = settings?.unmappedIdentity ?? .deny
    truncatedBody = settings?.truncatedBody ?? .deny
    a2aNamespaces = Set(settings?.a2aNamespaces ?? [])
    egressGateways = Set(settings?.egressGateways ?? [])
    chainHeader = settings?.delegation?.header ?? PolicySnapshot.defaultChainHeader
    chainHeaderHasRemitPrefix = GovernedRequest.HTTPRequest.HeaderFacts.startsWithRemitPrefix(chainHeader)
    maxDepth = settings?.delegation?.maxDepth ?? PolicySnapshot.defaultMaxDepth
    escalation = settings?.delegation?.escalation ?? .deny
    chainTTLSeconds = settings?.delegation?.ttlSeconds ?? PolicySnapshot.defaultChainTTLSeconds

    var missions: [String: CompiledMission] = [:]
    for mission in document.missions ?? [] {
      missions[mission.id] = CompiledMission(mission)
    }
    var agents: [String: CompiledAgent] = [:]
    var agentsByID: [String: CompiledAgent] = [:]
    for agent in document.agents ?? [] {
      var workload: String?
      if let namespace = agent.meshIdentity?.namespace, let serviceAccount = agent.meshIdentity?.serviceAccount,
        !namespace.isEmpty
      {
        workload = "\(namespace)/\(serviceAccount)"
      }
      let compiled = CompiledAgent(
        id: agent.id,
        mode: agent.mode ?? .enforce,
        mission: agent.mission.flatMap { missions[$0] },
        workload: workload
      )
      agentsByID[agent.id] = compiled
      if let workload { agents[workload] = compiled }
    }
    agentsByWorkload = agents
    self.agentsByID = agentsByID
    var injected: [(WorkloadPattern, String)] = []
    for mission in document.missions ?? [] {
      for rule in mission.credentials ?? [] {
        guard let pattern = WorkloadPattern(rule.to), let header = CredentialPlan.header(for: rule) else { continue }
        if !injected.contains(where: { $0.0 == pattern && $0.1 == header }) { injected.append((pattern, header)) }
      }
    }
    injectedHeaders = injected
    content = ContentPolicy(document)
    var known = Self.knownIdentities(
      workloads: Array(agents.keys) + missions.values.flatMap(\.exactGrants.keys) + Array(egressGateways),
      trustDomains: trustDomains)
    for (key, entry) in known {
      known[key]?.facts = Self.facts(
        of: entry.identity, agents: agents, egressGateways: egressGateways, a2aNamespaces: a2aNamespaces,
        trustDomains: trustDomains)
    }
    knownIdentities = known
  }

  struct KnownIdentity: Sendable {
    let principal: String
    let identity: WorkloadIdentity
    /// What the policy says of the workload, looked up when the snapshot is compiled.
    var facts = IdentityFacts(agent: nil, inTrustDomains: false, isEgressGateway: false, isA2APeer: false)
  }

  /// What the pipeline asks of a source or destination identity (steps 2 and 3).
  struct IdentityFacts: Sendable {
    /// The agent bound to the workload.
    let agent: CompiledAgent?
    /// The trust domain is one of `settings.trustDomains`.
    let inTrustDomains: Bool
    let isEgressGateway: Bool
    /// An agent's workload or in one of `settings.a2aNamespaces`: a call to it is agent-to-agent.
    let isA2APeer: Bool
  }

  static func facts(
    of identity: WorkloadIdentity, agents: [String: CompiledAgent], egressGateways: Set<String>,
    a2aNamespaces: Set<String>, trustDomains: Set<String>
  ) -> IdentityFacts {
    let agent = agents[identity.workload]
    return IdentityFacts(
      agent: agent, inTrustDomains: trustDomains.contains(identity.trustDomain),
      isEgressGateway: egressGateways.contains(identity.workload),
      isA2APeer: agent != nil || a2aNamespaces.contains(identity.namespace))
  }

  /// Bounded: a policy with very many trust domains and workloads just parses every time.
  static let maximumKnownIdentities = 100_000

  static func knownIdentities(workloads: [String], trustDomains: Set<String>) -> [PrincipalKey: KnownIdentity] {
    let unique = Set(workloads)
    guard unique.count * trustDomains.count <= maximumKnownIdentities else { return [:] }
    var known: [PrincipalKey: KnownIdentity] = [:]
    known.reserveCapacity(unique.count * trustDomains.count)
    for trustDomain in trustDomains {
      for workload in unique {
        guard let slash = workload.firstIndex(of: "/") else { continue }
        let principal =
          "spiffe://\(trustDomain)/ns/\(workload[..<slash])/sa/\(workload[workload.index(after: slash)...])"
        // Through the parser, so a hit is exactly what parsing the principal would have given.
        guard case .success(let identity) = WorkloadIdentity.parse(principal) else { continue }
        known[PrincipalKey(principal)] = KnownIdentity(principal: principal, identity: identity)
      }
    }
    return known
  }

  /// `WorkloadIdentity.parse(principal)`, from the compiled table when the policy names it.
  func identity(principal: String) -> Result<WorkloadIdentity, WorkloadIdentity.ParseFailure> {
    resolve(principal: principal).map(\.0)
  }

  /// `WorkloadIdentity.parse(principal)` and the policy's facts about it: for a principal the
  /// policy names, one probe of the compiled table instead of one lookup per question. The table
  /// compares bytes (`PrincipalKey`), not Unicode-canonically as `String` does: the identity must
  /// be the one these exact bytes parse to.
  func resolve(principal: String) -> Result<(WorkloadIdentity, IdentityFacts), WorkloadIdentity.ParseFailure> {
    if let known = knownIdentities[PrincipalKey(principal)] {
      return .success((known.identity, known.facts))
    }
    return WorkloadIdentity.parse(principal).map { identity in
      (
        identity,
        Self.facts(
          of: identity, agents: agentsByWorkload, egressGateways: egressGateways, a2aNamespaces: a2aNamespaces,
          trustDomains: trustDomains)
      )
    }
  }

  @inline(__always)
  static func sameBytes(_ first: String, _ second: String) -> Bool {
    var first = first
    var second = second
    return first.withUTF8 { a in
      second.withUTF8 { b in
        guard a.count == b.count else { return false }
        guard let x = a.baseAddress, let y = b.baseAddress else { return a.isEmpty }
        return memcmp(x, y, a.count) == 0
      }
    }
  }

  public static let defaultChainHeader = "x-remit-delegation-chain-id"
  public static let defaultMaxDepth = 4
  public static let defaultChainTTLSeconds = 900

  /// Headers credentials inject toward `destination`.
  func injectedHeaders(for destination: WorkloadIdentity) -> [String] {
    injectedHeaders.compactMap { entry in
      entry.pattern.matches(namespace: destination.namespace, serviceAccount: destination.serviceAccount)
        ? entry.header : nil
    }
  }

  /// An agent's SPIFFE ID in `trustDomain`, or its id when it is not mesh-bound (any more).
  public func principal(ofAgent id: String, trustDomain: String) -> String {
    guard let workload = agentsByID[id]?.workload, let slash = workload.firstIndex(of: "/") else { return id }
    return "spiffe://\(trustDomain)/ns/\(workload[..<slash])/sa/\(workload[workload.index(after: slash)...])"
  }

  /// Loads, validates and compiles in one step.
  public convenience init(bytes: [UInt8], format: PolicyDocument.Format) throws(PolicyError) {
    try self.init(PolicyDocument.decode(bytes, format: format))
  }
}

// The compiled forms are classes: the pipeline hands them from step to step, and copying a
// struct of many references costs a retain and a release per field on every decision.
final class CompiledAgent: Sendable {
  let id: String
  let mode: AgentMode
  let mission: CompiledMission?
  /// `namespace/serviceAccount`, nil when not mesh-bound.
  let workload: String?

  init(id: String, mode: AgentMode, mission: CompiledMission?, workload: String?) {
    self.id = id
    self.mode = mode
    self.mission = mission
    self.workload = workload
  }
}

final class CompiledMission: Sendable {
  let id: String
  /// As written, for escalation coverage (`MissionCoverage`).
  let source: PolicyDocument.Mission
  let requireChain: Bool
  /// `credentials`, in order: the first rule whose destination matches applies.
  let credentials: [(pattern: WorkloadPattern, rule: PolicyDocument.CredentialRule)]
  /// Grants whose destination is an exact workload, by `namespace/serviceAccount`.
  let exactGrants: [String: [CompiledGrant]]
  /// Grants whose destination uses `*`, scanned in order.
  let patternGrants: [(pattern: WorkloadPattern, grant: CompiledGrant)]
  let egressExact: Set<String>
  let egressPatterns: [HostPattern]

  init(_ mission: PolicyDocument.Mission) {
    id = mission.id
    source = mission
    requireChain = mission.delegation?.requireChain ?? false
    credentials = (mission.credentials ?? []).compactMap { rule in WorkloadPattern(rule.to).map { ($0, rule) } }
    var exact: [String: [CompiledGrant]] = [:]
    var patterns: [(WorkloadPattern, CompiledGrant)] = []
    for grant in mission.allow ?? [] {
      guard let pattern = WorkloadPattern(grant.to) else { continue }
      let compiled = CompiledGrant(grant)
      if pattern.isExact {
        exact[grant.to, default: []].append(compiled)
      } else {
        patterns.append((pattern, compiled))
      }
    }
    exactGrants = exact
    patternGrants = patterns
    var egressExact: Set<String> = []
    var egressPatterns: [HostPattern] = []
    for host in mission.egress ?? [] {
      let pattern = HostPattern(host)
      if host.hasPrefix("*.") { egressPatterns.append(pattern) } else { egressExact.insert(pattern.pattern) }
    }
    self.egressExact = egressExact
    self.egressPatterns = egressPatterns
  }

  func grants(for identity: WorkloadIdentity) -> [CompiledGrant] {
    var found = exactGrants[identity.workload] ?? []
    for entry in patternGrants
    where entry.pattern.matches(namespace: identity.namespace, serviceAccount: identity.serviceAccount) {
      found.append(entry.grant)
    }
    return found
  }

  func credential(for destination: WorkloadIdentity) -> PolicyDocument.CredentialRule? {
    credentials.first {
      $0.pattern.matches(namespace: destination.namespace, serviceAccount: destination.serviceAccount)
    }?
    .rule
  }

  func allowsEgress(host: String) -> Bool {
    egressExact.contains(host) || egressPatterns.contains { $0.matches(host) }
  }
}

final class CompiledGrant: Sendable {
  struct MCP: Sendable {
    let tools: GlobSet
    let resources: GlobSet
    let prompts: GlobSet
    let methods: GlobSet
  }

  struct HTTPRoute: Sendable {
    /// Empty means any method.
    let methods: Set<String>
    /// Empty means any path.
    let paths: [PathGlob]

    func matches(method: String, path: String) -> Bool {
      (methods.isEmpty || methods.contains(method)) && (paths.isEmpty || paths.contains { $0.matches(path) })
    }
  }

  /// No `mcp`, `http` or `a2a` section: the whole destination is granted.
  let unrestricted: Bool
  let mcp: MCP?
  let a2aMethods: GlobSet?
  let http: [HTTPRoute]

  init(_ grant: PolicyDocument.Grant) {
    unrestricted = grant.mcp == nil && grant.http == nil && grant.a2a == nil
    mcp = grant.mcp.map {
      MCP(
        tools: GlobSet($0.tools ?? []),
        resources: GlobSet($0.resources ?? []),
        prompts: GlobSet($0.prompts ?? []),
        methods: GlobSet($0.methods ?? [])
      )
    }
    a2aMethods = grant.a2a.map { GlobSet($0.methods ?? []) }
    http = (grant.http ?? []).map { rule in
      HTTPRoute(methods: Set(rule.methods ?? []), paths: (rule.paths ?? []).map(PathGlob.init))
    }
  }

  var speaksJSONRPC: Bool { mcp != nil || a2aMethods != nil }
}
