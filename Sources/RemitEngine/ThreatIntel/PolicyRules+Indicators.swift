extension PolicyRules {
  /// Why a threat indicator cannot be used, or nil. Shared by the policy validator, the feed
  /// importer and the API. Values are case-insensitive where the kind is (domains, URL scheme
  /// and host, hashes); see `docs/threat-intel.md`.
  public static func indicatorProblem(_ indicator: PolicyDocument.Indicator) -> String? {
    let value = indicator.value
    let kind = indicator.type.rawValue
    if value.utf8.count > IndicatorValue.maximumBytes {
      return "\(kind) must be at most \(IndicatorValue.maximumBytes) characters"
    }
    let problem: String?
    switch indicator.type {
    case .tool:
      problem = IndicatorValue.toolProblem(value).map { "tool \($0)" }
    case .domain:
      if case .failure(let failure) = IndicatorValue.parseDomain(value) {
        problem = "domain must be a DNS name or *.name: \(failure.message)"
      } else {
        problem = nil
      }
    case .ip:
      if case .failure(let failure) = IndicatorValue.parseAddress(value) {
        problem = "ip \(failure.message)\(value.contains("/") ? "; use type cidr for networks" : "")"
      } else {
        problem = nil
      }
    case .cidr:
      if case .failure(let failure) = IndicatorValue.parseNetwork(value) {
        problem = "cidr \(failure.message)"
      } else {
        problem = nil
      }
    case .url:
      problem = IndicatorValue.urlProblem(value).map { "url \($0)" }
    case .hash:
      problem = IndicatorValue.hashProblem(value).map { "hash \($0)" }
    }
    if let problem { return problem }
    if let source = indicator.source { return IndicatorValue.sourceProblem(source) }
    return nil
  }
}
