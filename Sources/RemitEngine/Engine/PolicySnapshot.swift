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
  /// `namespace/serviceAccount` → agent.
  let agentsByWorkload: [String: CompiledAgent]
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
    chainHeader = settings?.delegation?.header ?? "x-remit-delegation-chain-id"

    var missions: [String: CompiledMission] = [:]
    for mission in document.missions ?? [] {
      missions[mission.id] = CompiledMission(mission)
    }
    var agents: [String: CompiledAgent] = [:]
    for agent in document.agents ?? [] {
      guard let namespace = agent.meshIdentity?.namespace, let serviceAccount = agent.meshIdentity?.serviceAccount,
        !namespace.isEmpty
      else { continue }
      agents["\(namespace)/\(serviceAccount)"] = CompiledAgent(
        id: agent.id,
        mode: agent.mode ?? .enforce,
        mission: agent.mission.flatMap { missions[$0] }
      )
    }
    agentsByWorkload = agents
    content = ContentPolicy(document)
  }

  /// Loads, validates and compiles in one step.
  public convenience init(bytes: [UInt8], format: PolicyDocument.Format) throws(PolicyError) {
    try self.init(PolicyDocument.decode(bytes, format: format))
  }
}

struct CompiledAgent: Sendable {
  let id: String
  let mode: AgentMode
  let mission: CompiledMission?
}

struct CompiledMission: Sendable {
  let id: String
  /// Grants whose destination is an exact workload, by `namespace/serviceAccount`.
  let exactGrants: [String: [CompiledGrant]]
  /// Grants whose destination uses `*`, scanned in order.
  let patternGrants: [(pattern: WorkloadPattern, grant: CompiledGrant)]
  let egressExact: Set<String>
  let egressPatterns: [HostPattern]

  init(_ mission: PolicyDocument.Mission) {
    id = mission.id
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

  func allowsEgress(host: String) -> Bool {
    egressExact.contains(host) || egressPatterns.contains { $0.matches(host) }
  }
}

struct CompiledGrant: Sendable {
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
