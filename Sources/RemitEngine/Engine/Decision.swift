/// The engine's answer for one request, with everything the adapter, the log and the audit
/// trail need. Holds metadata only: never body content or argument values.
public struct Decision: Sendable {
  public var verdict: Verdict
  /// The deny reason; nil on allow.
  public var reason: ReasonCode?
  /// In observe mode, the reason the request would have been denied.
  public var wouldDeny: ReasonCode?
  public var mode: AgentMode?
  public var agent: String?
  public var sourcePrincipal: String
  /// The destination workload `namespace/serviceAccount`, when it parsed.
  public var destination: String?
  public var kind: RequestKind?
  public var method: String?
  public var path: String?
  /// The tool (tools/call) or prompt (prompts/get) name of the first message.
  public var tool: String?
  /// The JSON-RPC method of the first message.
  public var rpcMethod: String?
  public var chainID: String?
  /// On an egress check, the external host (HTTP host, else SNI, else destination service).
  public var externalHost: String?
  public var policyVersion: String?
  /// Observations: advisory ones (`identity_unmapped_allowed`, `body_truncated`,
  /// `dlp_log:email@$.params.arguments.to`) and the one behind a content denial
  /// (`dlp_block:credit_card@$.params.arguments.card`). Detector, heuristic or indicator and a
  /// location; never the matched text.
  public var findings: [String]
  /// The AIBOM component of the call (advisory: recorded, never a reason to deny).
  public var component: PolicyDocument.Component?
  /// Set when the body was JSON-RPC, so a denial can answer in kind.
  public var jsonRPC: JSONRPCReply?
  /// Headers to set on the upstream request (overwriting).
  public var headersToSet: [(name: String, value: String)]
  /// Incoming headers to strip before the request goes upstream.
  public var headersToRemove: [String]
  /// A call inside a delegation chain: what the ledger must be asked before the request may go.
  public var delegation: DelegationStep?
  /// Root … caller in the chain, once the ledger answered.
  public var chainPath: [String]
  /// The credential to issue on allow (section 7); never a value.
  public var credential: CredentialPlan?
  /// Step-by-step explanation; filled only when asked for (`remit check`).
  public var trace: [TraceEntry]

  public init(sourcePrincipal: String) {
    verdict = .deny
    reason = .internalError
    self.sourcePrincipal = sourcePrincipal
    findings = []
    headersToSet = []
    headersToRemove = []
    chainPath = []
    trace = []
  }

  /// What a JSON-RPC denial must carry: the ids of the requests (notifications have none).
  public struct JSONRPCReply: Sendable, Equatable {
    public var isBatch: Bool
    public var ids: [String]
  }

  public struct TraceEntry: Sendable, Equatable, Codable {
    public var step: String
    public var outcome: String
    public var detail: String

    public init(step: String, outcome: String, detail: String) {
      self.step = step
      self.outcome = outcome
      self.detail = detail
    }
  }
}
