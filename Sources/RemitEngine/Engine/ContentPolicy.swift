/// The content-security part of a snapshot (SPEC section 5 steps 6 to 8), compiled once:
/// threat indicators, injection heuristics, DLP detectors and AIBOM components.
struct ContentPolicy: Sendable {
  let threats: ThreatIndex?
  let injection: InjectionAction?
  let injectionDetector = InjectionDetector()
  let dlp: DLPScanner?
  /// Detector id (built-in or custom) → action.
  let dlpActions: [String: DLPAction]
  let components: [CompiledComponent]

  /// Whether any check reads the body.
  var inspectsBody: Bool { threats != nil || injection != nil || dlp != nil }

  init(_ document: PolicyDocument) {
    let indicators = document.threatIntel?.indicators ?? []
    threats = indicators.isEmpty ? nil : ThreatIndex(indicators)
    injection = document.threatIntel?.injection

    (dlp, dlpActions) = DLPScanner.compile(document.dlp)

    components = (document.aibom?.components ?? []).compactMap { component in
      WorkloadPattern(component.to).map {
        CompiledComponent(destination: $0, tool: component.tool.map(Glob.init), component: component)
      }
    }
  }

  /// The AIBOM component of a call: one naming the tool wins over one for the whole destination.
  func component(destination: WorkloadIdentity, tool: String?) -> PolicyDocument.Component? {
    var wholeDestination: PolicyDocument.Component?
    for entry in components
    where entry.destination.matches(namespace: destination.namespace, serviceAccount: destination.serviceAccount) {
      if let glob = entry.tool {
        if let tool, glob.matches(tool) { return entry.component }
      } else if wholeDestination == nil {
        wholeDestination = entry.component
      }
    }
    return wholeDestination
  }
}

struct CompiledComponent: Sendable {
  let destination: WorkloadPattern
  let tool: Glob?
  let component: PolicyDocument.Component
}

extension DLPScanner {
  /// The scanner and the action of each detector id for a policy's `dlp` section; no scanner
  /// when the section enables nothing.
  public static func compile(_ dlp: PolicyDocument.DLP?) -> (scanner: DLPScanner?, actions: [String: DLPAction]) {
    var actions: [String: DLPAction] = [:]
    var builtins: Set<DLPDetector> = []
    for (id, action) in dlp?.detectors ?? [:] {
      guard let detector = DLPDetector(rawValue: id) else { continue }
      builtins.insert(detector)
      actions[id] = action
    }
    var rules: [DLPCustomRule] = []
    for custom in dlp?.custom ?? [] {
      // Validation has compiled every rule already; one that fails here is skipped, never trapped on.
      guard
        let rule = try? DLPCustomRule(
          id: custom.id,
          keywords: custom.keywords ?? [],
          pattern: custom.pattern,
          validator: custom.validator.flatMap { DLPValidator(rawValue: $0.rawValue) }
        )
      else { continue }
      rules.append(rule)
      actions[custom.id] = custom.action
    }
    if builtins.isEmpty && rules.isEmpty { return (nil, actions) }
    return (DLPScanner(builtins: builtins, custom: rules), actions)
  }
}
