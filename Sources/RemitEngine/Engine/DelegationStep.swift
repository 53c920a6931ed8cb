/// Step 5 of the pipeline, as far as the engine can take it alone: a call made inside a chain
/// needs the ledger, which the authorizer asks once the other checks have allowed the request
/// (so a denied request never extends a chain), then hands the answer back to
/// `DecisionEngine.complete(_:ledger:snapshot:trace:)`.
public struct DelegationStep: Sendable {
  public var hop: DelegationHop
  public var escalation: EscalationMode
  /// What the call does, so every ancestor's mission can be asked whether it allows it too.
  let call: CallScope
  /// The callee's mission on an A2A hop, for `escalation: deny` against every ancestor.
  let calleeMission: PolicyDocument.Mission?
}

/// The call, reduced to what a mission's scope is checked against.
struct CallScope: Sendable {
  enum Target: Sendable {
    case egress(host: String)
    case messages([(method: String?, target: String?)])
    case route(method: String, path: String)
    /// A TCP connection (no HTTP): only a whole-destination grant allows it.
    case connection
  }

  let destination: WorkloadIdentity
  let target: Target

  func isAllowed(by mission: CompiledMission) -> Bool {
    if case .egress(let host) = target { return mission.allowsEgress(host: host) }
    let grants = mission.grants(for: destination)
    if grants.contains(where: \.unrestricted) { return true }
    switch target {
    case .egress, .connection:
      return false
    case .messages(let messages):
      return messages.allSatisfy { message in
        grants.contains { DecisionEngine.grant($0, allows: message.method, target: message.target) }
      }
    case .route(let method, let path):
      return grants.contains { $0.http.contains { $0.matches(method: method, path: path) } }
    }
  }

  /// A credential travels in a header: its scope is kept well inside Envoy's header limits.
  static let maximumCredentialScopeBytes = 2048

  /// The JWT `scope`: the tools, resources, prompts or methods called, else the route or host.
  /// A batch whose names exceed the bound carries the first ones only: a narrower scope, which a
  /// tool that checks it refuses (fail closed).
  var credentialScope: String {
    switch target {
    case .egress(let host): return host
    case .connection: return destination.workload
    case .route(let method, let path):
      return String("\(method) \(path)".utf8.prefix(Self.maximumCredentialScopeBytes)) ?? method
    case .messages(let messages):
      var seen: [String] = []
      var bytes = 0
      for message in messages.prefix(64) {
        let item = message.target ?? message.method ?? ""
        guard !item.isEmpty, !seen.contains(item) else { continue }
        bytes += item.utf8.count + 1
        if bytes > Self.maximumCredentialScopeBytes { break }
        seen.append(item)
      }
      return seen.joined(separator: " ")
    }
  }
}
