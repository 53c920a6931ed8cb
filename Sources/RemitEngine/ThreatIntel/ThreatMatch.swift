/// A request property that is on the threat list: which indicator matched. Everything here is
/// policy data (the indicator as the policy writes it), never request content, so it may be
/// logged and put on the decision trace.
public struct ThreatMatch: Sendable, Equatable, Hashable {
  public var type: IndicatorType
  /// The indicator's value as written in the policy.
  public var indicator: String
  /// The indicator's severity; `.high` when the policy gives none.
  public var severity: Severity
  public var source: String?

  /// Severity of an indicator that does not state one.
  public static let defaultSeverity: Severity = .high

  public init(
    type: IndicatorType, indicator: String, severity: Severity = ThreatMatch.defaultSeverity, source: String? = nil
  ) {
    self.type = type
    self.indicator = indicator
    self.severity = severity
    self.source = source
  }

  init(_ indicator: PolicyDocument.Indicator) {
    self.init(
      type: indicator.type,
      indicator: indicator.value,
      severity: indicator.severity ?? Self.defaultSeverity,
      source: indicator.source
    )
  }
}
