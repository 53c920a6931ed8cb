/// The content-security part of a snapshot (SPEC section 5 steps 6 to 8), compiled once:
/// threat indicators, injection heuristics, DLP detectors and AIBOM components.
///
/// A class: every decision reads it, and a struct of this size (the threat index alone is some
/// 500 bytes of tables) was copied, with a retain per table, each time it was read.
final class ContentPolicy: Sendable {
  let threats: ThreatIndex?
  /// `threats != nil`, stored: a loop that tests it must not copy the optional index to ask.
  let hasThreats: Bool
  let injection: InjectionAction?
  let injectionDetector = InjectionDetector()
  let dlp: DLPScanner?
  /// Only the detectors that block or redact, when some others only log: a body with more
  /// log findings than the scan keeps (64) is scanned again with these, so a flood of e-mail
  /// addresses cannot push a card number past the cap. Nil when every detector enforces.
  let dlpEnforcing: DLPScanner?
  /// Detector id (built-in or custom) → action.
  let dlpActions: [String: DLPAction]
  /// AIBOM components whose `to` is an exact workload, by workload; the others in order.
  let componentsByDestination: [String: [CompiledComponent]]
  let componentPatterns: [CompiledComponent]

  /// Whether any check reads the body.
  var inspectsBody: Bool { threats != nil || injection != nil || dlp != nil }

  init(_ document: PolicyDocument) {
    let indicators = document.threatIntel?.indicators ?? []
    threats = indicators.isEmpty ? nil : ThreatIndex(indicators)
    hasThreats = !indicators.isEmpty
    injection = document.threatIntel?.injection

    (dlp, dlpActions) = DLPScanner.compile(document.dlp)
    dlpEnforcing =
      dlpActions.values.contains(.log) ? DLPScanner.compile(document.dlp, only: [.block, .redact]).scanner : nil

    var exact: [String: [CompiledComponent]] = [:]
    var patterns: [CompiledComponent] = []
    for (order, component) in (document.aibom?.components ?? []).enumerated() {
      guard let destination = WorkloadPattern(component.to) else { continue }
      let compiled = CompiledComponent(
        order: order, destination: destination, tool: component.tool.map(Glob.init), component: component)
      if destination.isExact { exact[component.to, default: []].append(compiled) } else { patterns.append(compiled) }
    }
    componentsByDestination = exact
    componentPatterns = patterns
  }

  /// The AIBOM component of a call: one naming the tool wins over one for the whole destination,
  /// and the first in document order among equals.
  func component(destination: WorkloadIdentity, tool: String?) -> PolicyDocument.Component? {
    var best: CompiledComponent?
    func consider(_ entry: CompiledComponent) {
      if let glob = entry.tool {
        guard let tool, glob.matches(tool) else { return }
      }
      guard let current = best else { return best = entry }
      let entryNamesTool = entry.tool != nil
      let currentNamesTool = current.tool != nil
      if entryNamesTool != currentNamesTool {
        if entryNamesTool { best = entry }
      } else if entry.order < current.order {
        best = entry
      }
    }
    for entry in componentsByDestination[destination.workload] ?? [] { consider(entry) }
    for entry in componentPatterns
    where entry.destination.matches(namespace: destination.namespace, serviceAccount: destination.serviceAccount) {
      consider(entry)
    }
    return best?.component
  }
}

final class CompiledComponent: Sendable {
  let order: Int
  let destination: WorkloadPattern
  let tool: Glob?
  let component: PolicyDocument.Component

  init(order: Int, destination: WorkloadPattern, tool: Glob?, component: PolicyDocument.Component) {
    self.order = order
    self.destination = destination
    self.tool = tool
    self.component = component
  }
}

extension DLPScanner {
  /// The scanner and the action of each detector id for a policy's `dlp` section; no scanner
  /// when the section enables nothing.
  /// `only`: just the detectors with one of these actions (nil: all).
  public static func compile(_ dlp: PolicyDocument.DLP?, only: Set<DLPAction>? = nil) -> (
    scanner: DLPScanner?, actions: [String: DLPAction]
  ) {
    var actions: [String: DLPAction] = [:]
    var builtins: Set<DLPDetector> = []
    for (id, action) in dlp?.detectors ?? [:] {
      guard let detector = DLPDetector(rawValue: id), only?.contains(action) ?? true else { continue }
      builtins.insert(detector)
      actions[id] = action
    }
    var rules: [DLPCustomRule] = []
    for custom in dlp?.custom ?? [] where only?.contains(custom.action) ?? true {
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
