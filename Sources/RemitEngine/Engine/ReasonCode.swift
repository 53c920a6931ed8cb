/// Why a request was denied (or would have been). Stable API: logs, metrics, headers and tests
/// rely on these strings (SPEC section 5).
public enum ReasonCode: String, Sendable, CaseIterable, Codable {
  case policyUnavailable = "policy_unavailable"
  case identityMissing = "identity_missing"
  case identityInvalid = "identity_invalid"
  case identityUnmapped = "identity_unmapped"
  case requestInvalid = "request_invalid"
  case bodyMalformed = "body_malformed"
  case bodyTruncated = "body_truncated"
  case scopeDestinationDenied = "scope_destination_denied"
  case scopeToolDenied = "scope_tool_denied"
  case scopeRouteDenied = "scope_route_denied"
  case egressHostDenied = "egress_host_denied"
  case delegationHeaderMissing = "delegation_header_missing"
  case delegationCycle = "delegation_cycle"
  case delegationDepth = "delegation_depth"
  case delegationUnknownMember = "delegation_unknown_member"
  case delegationEscalation = "delegation_escalation"
  case threatIntelMatch = "threat_intel_match"
  case injectionDetected = "injection_detected"
  case dlpBlock = "dlp_block"
  case dlpRedact = "dlp_redact"
  case credentialUnavailable = "credential_unavailable"
  case internalError = "internal_error"

  /// Denials that `mode: observe` never turns into an allow.
  public var isAlwaysEnforced: Bool {
    self == .identityMissing || self == .identityInvalid || self == .policyUnavailable
  }
}

public enum Verdict: String, Sendable, Codable {
  case allow
  case deny
}

/// How the request was classified (SPEC section 5 step 3).
public enum RequestKind: String, Sendable, Codable {
  case eastWest = "east_west"
  case a2a
  case egress
}
