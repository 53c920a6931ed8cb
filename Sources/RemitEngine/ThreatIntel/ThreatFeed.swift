/// The file formats of a threat feed (see `docs/threat-intel.md`).
public enum ThreatFeedFormat: String, Sendable, CaseIterable {
  /// `type,value,severity,source`, header optional, RFC 4180 quoting.
  case csv
  /// One JSON object per line: `{"type": ..., "value": ..., "severity": ..., "source": ...}`.
  case jsonLines = "jsonl"

  /// The format a file name implies: `.csv`, or `.jsonl` / `.ndjson`.
  public init?(fileName: String) {
    let lowered = fileName.lowercased()
    if lowered.hasSuffix(".csv") {
      self = .csv
    } else if lowered.hasSuffix(".jsonl") || lowered.hasSuffix(".ndjson") {
      self = .jsonLines
    } else {
      return nil
    }
  }
}

/// A feed that cannot be imported, with the 1-based line where the problem starts (0 for the
/// feed as a whole).
public struct ThreatFeedError: Error, Sendable, Equatable, CustomStringConvertible {
  /// Stable: `feed_too_large`, `feed_too_many_indicators`, `feed_malformed` (not CSV / JSON of
  /// the expected shape), `indicator_invalid` (an indicator breaks a rule), `source_invalid`.
  public var code: String
  public var line: Int
  public var message: String

  public init(code: String, line: Int, message: String) {
    self.code = code
    self.line = line
    self.message = message
  }

  public var description: String { line > 0 ? "line \(line): \(message) [\(code)]" : "\(message) [\(code)]" }
}

/// Bulk import of threat indicators from a feed file into a policy's `threatIntel.indicators`.
public enum ThreatFeed {
  public static let defaultMaximumBytes = 16 << 20
  public static let defaultMaximumIndicators = 100_000
  /// Longest CSV field or JSON line; a valid indicator is far shorter.
  static let maximumFieldBytes = 8 << 10

  /// Parses and validates a feed. CSV: header `type,value,severity,source` (header optional,
  /// columns in that order, severity and source optional, RFC 4180 quotes). JSON lines:
  /// `{"type":..,"value":..,"severity":..,"source":..}`. Blank lines and lines starting with
  /// `#` are skipped. Type and severity are case-insensitive; values are normalised (domains,
  /// URL scheme and host and hashes lower case, addresses canonical) and validated with
  /// `PolicyRules.indicatorProblem`. A line without a source gets `defaultSource`.
  public static func parse(
    _ bytes: [UInt8],
    format: ThreatFeedFormat,
    defaultSource: String?,
    maximumBytes: Int = defaultMaximumBytes,
    maximumIndicators: Int = defaultMaximumIndicators
  ) throws(ThreatFeedError) -> [PolicyDocument.Indicator] {
    guard bytes.count <= maximumBytes else {
      throw ThreatFeedError(
        code: "feed_too_large", line: 0, message: "feed is larger than \(maximumBytes) bytes; split it")
    }
    if let defaultSource, let problem = IndicatorValue.sourceProblem(defaultSource) {
      throw ThreatFeedError(code: "source_invalid", line: 0, message: "default \(problem)")
    }
    var builder = Builder(defaultSource: defaultSource, maximumIndicators: maximumIndicators)
    switch format {
    case .csv: try CSVReader.read(bytes, into: &builder)
    case .jsonLines: try JSONLinesReader.read(bytes, into: &builder)
    }
    return builder.indicators
  }

  /// Merges imported indicators into a policy's list. Indicators are the same when their type
  /// and normalised value are (`Evil.Example` is `evil.example`). A re-imported indicator keeps
  /// its place and value and takes the new severity and source when the feed gives them; new
  /// ones are appended in feed order. `updated` counts indicators whose severity or source
  /// changed.
  public static func merge(
    _ new: [PolicyDocument.Indicator],
    into existing: [PolicyDocument.Indicator]
  ) -> (indicators: [PolicyDocument.Indicator], added: Int, updated: Int) {
    struct Key: Hashable {
      var type: IndicatorType
      var value: String
    }
    var result = existing
    var positions: [Key: Int] = [:]
    for (index, indicator) in existing.enumerated() {
      let key = Key(type: indicator.type, value: IndicatorValue.normalised(indicator.type, indicator.value))
      if positions[key] == nil { positions[key] = index }
    }
    var added = 0
    var updated: Set<Int> = []
    for indicator in new {
      let key = Key(type: indicator.type, value: IndicatorValue.normalised(indicator.type, indicator.value))
      if let position = positions[key] {
        var merged = result[position]
        if let severity = indicator.severity { merged.severity = severity }
        if let source = indicator.source { merged.source = source }
        if merged != result[position] {
          result[position] = merged
          if position < existing.count { updated.insert(position) }
        }
      } else {
        positions[key] = result.count
        result.append(indicator)
        added += 1
      }
    }
    return (result, added, updated.count)
  }

  /// Turns the text fields of one record into a validated indicator.
  struct Builder {
    let defaultSource: String?
    let maximumIndicators: Int
    var indicators: [PolicyDocument.Indicator] = []

    mutating func add(type: String, value: String, severity: String?, source: String?, line: Int)
      throws(ThreatFeedError)
    {
      guard indicators.count < maximumIndicators else {
        throw ThreatFeedError(
          code: "feed_too_many_indicators", line: line,
          message: "feed has more than \(maximumIndicators) indicators; split it")
      }
      guard let kind = IndicatorType(rawValue: type.lowercased()) else {
        let accepted = IndicatorType.allCases.map(\.rawValue).joined(separator: ", ")
        throw ThreatFeedError(
          code: "indicator_invalid", line: line,
          message: type.isEmpty
            ? "type is missing; expected one of: \(accepted)"
            : "unknown type \"\(type.policyErrorExcerpt)\"; expected one of: \(accepted)")
      }
      var level: Severity?
      if let severity, !severity.isEmpty {
        guard let parsed = Severity(rawValue: severity.lowercased()) else {
          let accepted = Severity.allCases.map(\.rawValue).joined(separator: ", ")
          throw ThreatFeedError(
            code: "indicator_invalid", line: line,
            message: "unknown severity \"\(severity.policyErrorExcerpt)\"; expected one of: \(accepted)")
        }
        level = parsed
      }
      guard !value.isEmpty else {
        throw ThreatFeedError(code: "indicator_invalid", line: line, message: "value is missing")
      }
      let indicator = PolicyDocument.Indicator(
        type: kind,
        value: IndicatorValue.normalised(kind, value),
        severity: level,
        source: (source?.isEmpty ?? true) ? defaultSource : source
      )
      if let problem = PolicyRules.indicatorProblem(indicator) {
        throw ThreatFeedError(
          code: "indicator_invalid", line: line, message: "\(problem) (value \"\(value.policyErrorExcerpt)\")")
      }
      indicators.append(indicator)
    }
  }

  static func text(_ bytes: ArraySlice<UInt8>, line: Int) throws(ThreatFeedError) -> String {
    guard let text = String(validating: bytes, as: UTF8.self) else {
      throw ThreatFeedError(code: "feed_malformed", line: line, message: "line is not valid UTF-8")
    }
    return text
  }
}
