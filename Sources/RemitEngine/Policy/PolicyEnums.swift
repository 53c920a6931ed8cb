/// String enums of the policy document. Decoding an unknown value fails with a message that
/// lists the accepted values, which the loader turns into a path-qualified error.
public protocol PolicyEnum: RawRepresentable, CaseIterable, Codable, Sendable, Hashable where RawValue == String {}

extension PolicyEnum {
  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    let raw = try container.decode(String.self)
    guard let value = Self(rawValue: raw) else {
      let accepted = Self.allCases.map(\.rawValue).joined(separator: ", ")
      throw DecodingError.dataCorruptedError(
        in: container,
        debugDescription: "unknown value \"\(raw.policyErrorExcerpt)\"; expected one of: \(accepted)"
      )
    }
    self = value
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(rawValue)
  }
}

public enum UnmappedIdentityAction: String, PolicyEnum {
  case deny
  case allow
}

public enum TruncatedBodyAction: String, PolicyEnum {
  case deny
  case inspectPartial = "inspect-partial"
}

public enum EscalationMode: String, PolicyEnum {
  case deny
  case narrow
}

public enum AgentMode: String, PolicyEnum {
  case enforce
  case observe
}

public enum DLPAction: String, PolicyEnum {
  case block
  case redact
  case log
}

public enum CustomDetectorValidator: String, PolicyEnum {
  case luhn
  case mod97
}

public enum InjectionAction: String, PolicyEnum {
  case block
  case log
}

public enum IndicatorType: String, PolicyEnum {
  case tool
  case domain
  case ip
  case cidr
  case url
  case hash
}

public enum Severity: String, PolicyEnum {
  case low
  case medium
  case high
  case critical
}

public enum Risk: String, PolicyEnum {
  case low
  case medium
  case high
  case critical
}

extension String {
  /// A bounded, printable excerpt of user input for error messages.
  var policyErrorExcerpt: String {
    let limit = 64
    let printable = String(self.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) })
    return printable.count > limit ? String(printable.prefix(limit)) + "…" : printable
  }
}
