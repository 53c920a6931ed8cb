/// The policy document v1 (SPEC section 3): what `remit serve --policy` reads, what the control
/// plane serves as a snapshot, and what `remit policy export` prints.
///
/// Optional fields stay optional in the model so that a document round-trips exactly: loading
/// re-encodes the decoded document and compares its keys with the input to find unknown fields.
public struct PolicyDocument: Codable, Sendable, Equatable {
  public var apiVersion: String
  public var kind: String
  public var metadata: Metadata?
  public var settings: Settings?
  public var agents: [Agent]?
  public var missions: [Mission]?
  public var dlp: DLP?
  public var threatIntel: ThreatIntel?
  public var aibom: AIBOM?

  public static let apiVersionV1 = "remit/v1"
  public static let kindPolicy = "Policy"

  public init(
    apiVersion: String = PolicyDocument.apiVersionV1,
    kind: String = PolicyDocument.kindPolicy,
    metadata: Metadata? = nil,
    settings: Settings? = nil,
    agents: [Agent]? = nil,
    missions: [Mission]? = nil,
    dlp: DLP? = nil,
    threatIntel: ThreatIntel? = nil,
    aibom: AIBOM? = nil
  ) {
    self.apiVersion = apiVersion
    self.kind = kind
    self.metadata = metadata
    self.settings = settings
    self.agents = agents
    self.missions = missions
    self.dlp = dlp
    self.threatIntel = threatIntel
    self.aibom = aibom
  }

  public struct Metadata: Codable, Sendable, Equatable {
    public var name: String?
    /// Set by the control plane; files may omit it. Accepts a JSON number or string.
    public var version: PolicyVersionString?

    public init(name: String? = nil, version: String? = nil) {
      self.name = name
      self.version = version.map(PolicyVersionString.init)
    }
  }

  public struct Settings: Codable, Sendable, Equatable {
    public var trustDomains: [String]?
    public var unmappedIdentity: UnmappedIdentityAction?
    public var truncatedBody: TruncatedBodyAction?
    public var a2aNamespaces: [String]?
    public var egressGateways: [String]?
    public var delegation: DelegationSettings?

    public init(
      trustDomains: [String]? = nil,
      unmappedIdentity: UnmappedIdentityAction? = nil,
      truncatedBody: TruncatedBodyAction? = nil,
      a2aNamespaces: [String]? = nil,
      egressGateways: [String]? = nil,
      delegation: DelegationSettings? = nil
    ) {
      self.trustDomains = trustDomains
      self.unmappedIdentity = unmappedIdentity
      self.truncatedBody = truncatedBody
      self.a2aNamespaces = a2aNamespaces
      self.egressGateways = egressGateways
      self.delegation = delegation
    }
  }

  public struct DelegationSettings: Codable, Sendable, Equatable {
    public var header: String?
    public var maxDepth: Int?
    public var escalation: EscalationMode?
    public var ttlSeconds: Int?

    public init(header: String? = nil, maxDepth: Int? = nil, escalation: EscalationMode? = nil, ttlSeconds: Int? = nil)
    {
      self.header = header
      self.maxDepth = maxDepth
      self.escalation = escalation
      self.ttlSeconds = ttlSeconds
    }
  }

  public struct Agent: Codable, Sendable, Equatable {
    public var id: String
    public var description: String?
    public var meshIdentity: MeshIdentity?
    public var mission: String?
    public var mode: AgentMode?

    public init(
      id: String,
      description: String? = nil,
      meshIdentity: MeshIdentity? = nil,
      mission: String? = nil,
      mode: AgentMode? = nil
    ) {
      self.id = id
      self.description = description
      self.meshIdentity = meshIdentity
      self.mission = mission
      self.mode = mode
    }
  }

  public struct MeshIdentity: Codable, Sendable, Equatable, Hashable {
    public var namespace: String?
    public var serviceAccount: String?

    public init(namespace: String? = nil, serviceAccount: String? = nil) {
      self.namespace = namespace
      self.serviceAccount = serviceAccount
    }
  }

  public struct Mission: Codable, Sendable, Equatable {
    public var id: String
    public var description: String?
    public var allow: [Grant]?
    public var egress: [String]?
    public var delegation: MissionDelegation?
    public var credentials: [CredentialRule]?

    public init(
      id: String,
      description: String? = nil,
      allow: [Grant]? = nil,
      egress: [String]? = nil,
      delegation: MissionDelegation? = nil,
      credentials: [CredentialRule]? = nil
    ) {
      self.id = id
      self.description = description
      self.allow = allow
      self.egress = egress
      self.delegation = delegation
      self.credentials = credentials
    }
  }

  /// One `allow` entry: a destination and, optionally, what may be done there. An entry with
  /// no `mcp`, `http` or `a2a` section grants the whole destination.
  public struct Grant: Codable, Sendable, Equatable {
    public var to: String
    public var mcp: MCPRules?
    public var http: [HTTPRule]?
    public var a2a: A2ARules?

    public init(to: String, mcp: MCPRules? = nil, http: [HTTPRule]? = nil, a2a: A2ARules? = nil) {
      self.to = to
      self.mcp = mcp
      self.http = http
      self.a2a = a2a
    }
  }

  public struct MCPRules: Codable, Sendable, Equatable {
    public var tools: [String]?
    public var resources: [String]?
    public var prompts: [String]?
    public var methods: [String]?

    public init(tools: [String]? = nil, resources: [String]? = nil, prompts: [String]? = nil, methods: [String]? = nil)
    {
      self.tools = tools
      self.resources = resources
      self.prompts = prompts
      self.methods = methods
    }
  }

  public struct HTTPRule: Codable, Sendable, Equatable {
    /// Upper-case HTTP methods; omitted means any method.
    public var methods: [String]?
    /// Path globs: `*` is one segment (or part of one), `**` any number of segments.
    public var paths: [String]?

    public init(methods: [String]? = nil, paths: [String]? = nil) {
      self.methods = methods
      self.paths = paths
    }
  }

  public struct A2ARules: Codable, Sendable, Equatable {
    public var methods: [String]?

    public init(methods: [String]? = nil) {
      self.methods = methods
    }
  }

  public struct MissionDelegation: Codable, Sendable, Equatable {
    public var requireChain: Bool?

    public init(requireChain: Bool? = nil) {
      self.requireChain = requireChain
    }
  }

  public struct CredentialRule: Codable, Sendable, Equatable {
    public var to: String
    public var mint: MintSpec?
    public var secret: SecretSpec?

    public init(to: String, mint: MintSpec? = nil, secret: SecretSpec? = nil) {
      self.to = to
      self.mint = mint
      self.secret = secret
    }
  }

  public struct MintSpec: Codable, Sendable, Equatable {
    public var header: String?
    public var scheme: String?
    public var ttlSeconds: Int?

    public init(header: String? = nil, scheme: String? = nil, ttlSeconds: Int? = nil) {
      self.header = header
      self.scheme = scheme
      self.ttlSeconds = ttlSeconds
    }
  }

  public struct SecretSpec: Codable, Sendable, Equatable {
    public var name: String
    public var header: String

    public init(name: String, header: String) {
      self.name = name
      self.header = header
    }
  }

  public struct DLP: Codable, Sendable, Equatable {
    /// Built-in detector id → action.
    public var detectors: [String: DLPAction]?
    public var custom: [CustomDetector]?

    public init(detectors: [String: DLPAction]? = nil, custom: [CustomDetector]? = nil) {
      self.detectors = detectors
      self.custom = custom
    }
  }

  public struct CustomDetector: Codable, Sendable, Equatable {
    public var id: String
    /// Case-insensitive; at least one. The pattern only runs near a keyword, so a clean body
    /// costs one pass and a pattern cannot make a scan unbounded.
    public var keywords: [String]?
    public var pattern: String
    /// Optional check on the matched text: `luhn` or `mod97`.
    public var validator: CustomDetectorValidator?
    public var action: DLPAction

    public init(
      id: String,
      keywords: [String]? = nil,
      pattern: String,
      validator: CustomDetectorValidator? = nil,
      action: DLPAction
    ) {
      self.id = id
      self.keywords = keywords
      self.pattern = pattern
      self.validator = validator
      self.action = action
    }
  }

  public struct ThreatIntel: Codable, Sendable, Equatable {
    public var injection: InjectionAction?
    public var indicators: [Indicator]?

    public init(injection: InjectionAction? = nil, indicators: [Indicator]? = nil) {
      self.injection = injection
      self.indicators = indicators
    }
  }

  public struct Indicator: Codable, Sendable, Equatable {
    public var type: IndicatorType
    public var value: String
    public var severity: Severity?
    public var source: String?

    public init(type: IndicatorType, value: String, severity: Severity? = nil, source: String? = nil) {
      self.type = type
      self.value = value
      self.severity = severity
      self.source = source
    }
  }

  public struct AIBOM: Codable, Sendable, Equatable {
    public var components: [Component]?

    public init(components: [Component]? = nil) {
      self.components = components
    }
  }

  public struct Component: Codable, Sendable, Equatable {
    public var to: String
    public var tool: String?
    public var publisher: String?
    public var version: String?
    public var risk: Risk?

    public init(to: String, tool: String? = nil, publisher: String? = nil, version: String? = nil, risk: Risk? = nil) {
      self.to = to
      self.tool = tool
      self.publisher = publisher
      self.version = version
      self.risk = risk
    }
  }
}

/// `metadata.version`: a string in the document, but a bare YAML or JSON number is accepted.
public struct PolicyVersionString: Codable, Sendable, Equatable, Hashable, CustomStringConvertible {
  public var value: String

  public init(_ value: String) {
    self.value = value
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    if let string = try? container.decode(String.self) {
      value = string
    } else if let number = try? container.decode(Int.self) {
      value = String(number)
    } else {
      throw DecodingError.dataCorruptedError(in: container, debugDescription: "must be a string or an integer")
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(value)
  }

  public var description: String { value }
}
