/// One call made inside a delegation chain, as sent to a ledger (and, as JSON, to the control
/// plane's `POST /v1/delegations/hops`).
public struct DelegationHop: Codable, Sendable, Equatable {
  public var chainId: String
  /// The calling agent's id.
  public var caller: String
  /// The agent called on an A2A hop (its id, or `namespace/serviceAccount` when the destination
  /// is in `a2aNamespaces` but bound to no agent); nil when the caller calls a tool.
  public var callee: String?
  public var maxDepth: Int
  public var ttlSeconds: Int

  public init(chainId: String, caller: String, callee: String?, maxDepth: Int, ttlSeconds: Int) {
    self.chainId = chainId
    self.caller = caller
    self.callee = callee
    self.maxDepth = maxDepth
    self.ttlSeconds = ttlSeconds
  }

  /// Bounds every ledger enforces on what it is asked to store.
  public static let maximumMembers = 1024
  public static let maximumMaxDepth = 32
  public static let maximumTTLSeconds = 86_400

  /// Why this hop cannot be stored as given, or nil. Member names are agent ids or workload names.
  public var problem: (field: String, message: String)? {
    if !DelegationHop.isValidChainID(chainId) {
      return ("chainId", "must be 1-128 characters of A-Z, a-z, 0-9, ., _, : and -")
    }
    if !Self.isValidMember(caller) { return ("caller", "must be 1-253 characters of a-z, 0-9, ., _, / and -") }
    if let callee, !Self.isValidMember(callee) {
      return ("callee", "must be 1-253 characters of a-z, 0-9, ., _, / and -")
    }
    if !(1...Self.maximumMaxDepth).contains(maxDepth) { return ("maxDepth", "must be 1 to \(Self.maximumMaxDepth)") }
    if !(1...Self.maximumTTLSeconds).contains(ttlSeconds) {
      return ("ttlSeconds", "must be 1 to \(Self.maximumTTLSeconds)")
    }
    return nil
  }

  /// Chain ids are logged and stored, so only well-formed ones are taken.
  public static func isValidChainID(_ value: String) -> Bool {
    !value.isEmpty && value.utf8.count <= 128
      && value.utf8.allSatisfy {
        DNSName.isLowerAlnum($0) || ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z"))
          || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: ":")
      }
  }

  static func isValidMember(_ value: String) -> Bool {
    !value.isEmpty && value.utf8.count <= 253
      && value.utf8.allSatisfy {
        DNSName.isLowerAlnum($0) || ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) || $0 == UInt8(ascii: "-")
          || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "/")
      }
  }
}

/// A ledger's answer: the outcome and, when the caller is a member, its path from the root.
public struct DelegationRecord: Codable, Sendable, Equatable {
  public var outcome: DelegationOutcome
  /// Root … caller; empty when the caller is not a member.
  public var callerPath: [String]

  public init(outcome: DelegationOutcome, callerPath: [String]) {
    self.outcome = outcome
    self.callerPath = callerPath
  }
}

/// The ledger could not answer (unreachable, timed out, full). The hop is denied: fail closed.
public struct DelegationLedgerError: Error, Sendable, CustomStringConvertible {
  public var code: String
  public var message: String

  public init(code: String, message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { "\(code): \(message)" }
}

/// Where chains live (SPEC section 6): in memory for one authorizer on a policy file, in the
/// control plane when authorizers sync from it, so every replica sees the same chain.
public protocol DelegationLedger: Sendable {
  func record(_ hop: DelegationHop) async throws(DelegationLedgerError) -> DelegationRecord
}
