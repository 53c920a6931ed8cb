/// One problem in a policy document: where it is and what is wrong, in words a person can act on.
public struct PolicyIssue: Sendable, Equatable, Hashable, CustomStringConvertible {
  /// A path in the document, such as `missions[2].allow[0].to`. Empty for the document itself.
  public var path: String
  public var message: String

  public init(path: String, message: String) {
    self.path = path
    self.message = message
  }

  public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// A policy document that cannot be used. Carries every issue found, not just the first.
public struct PolicyError: Error, Sendable, Equatable, CustomStringConvertible {
  /// Stable code: `policy_invalid` for a document that parsed but breaks a rule,
  /// `policy_unreadable` for one that is not YAML/JSON of the right shape.
  public var code: String
  public var issues: [PolicyIssue]

  public init(code: String, issues: [PolicyIssue]) {
    self.code = code
    self.issues = issues
  }

  public var description: String {
    "\(code): " + issues.map(\.description).joined(separator: "; ")
  }
}
