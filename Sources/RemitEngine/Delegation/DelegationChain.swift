/// One delegation chain (SPEC section 6): a tree rooted at the first caller, one edge per hop
/// caller → callee. Pure; both ledgers (in memory and the control plane's store) apply hops
/// through it, so the rules are written once.
public struct DelegationChain: Sendable, Equatable {
  public struct Member: Sendable, Equatable {
    /// Nil for the root.
    public var parent: String?
    public var depth: Int
  }

  public let id: String
  public let root: String
  public private(set) var members: [String: Member]

  /// A new chain whose only member is its root.
  public init(id: String, root: String) {
    self.id = id
    self.root = root
    members = [root: Member(parent: nil, depth: 0)]
  }

  /// Rebuilds a chain from stored edges (parent → child), in the order they were recorded.
  /// Edges that do not attach to the tree are ignored: they cannot have been recorded by `apply`.
  public init(id: String, root: String, edges: [(parent: String, child: String)]) {
    self.init(id: id, root: root)
    for edge in edges {
      guard let parent = members[edge.parent], members[edge.child] == nil else { continue }
      members[edge.child] = Member(parent: edge.parent, depth: parent.depth + 1)
    }
  }

  /// The members from the root down to `member`, or nil when it is not in the chain.
  public func path(to member: String) -> [String]? {
    guard members[member] != nil else { return nil }
    var path: [String] = []
    var current: String? = member
    // Depth bounds the walk; the extra guard keeps a corrupted tree from looping.
    while let name = current, path.count <= members.count {
      path.append(name)
      current = members[name]?.parent
    }
    return path.reversed()
  }

  /// Applies one call made inside the chain. With a callee it is a hop (an A2A call); without
  /// one, the caller acts in the chain (a call to a tool) and only its membership is checked.
  public mutating func apply(
    caller: String, callee: String?, maxDepth: Int, maximumMembers: Int
  ) -> DelegationOutcome {
    guard let position = members[caller] else { return .unknownMember }
    guard let callee else { return .member }
    if let existing = members[callee] {
      // The same edge again is idempotent; any other way back into the tree closes a loop.
      return existing.parent == caller ? .repeated : .cycle
    }
    guard position.depth + 1 <= maxDepth else { return .depth }
    guard members.count < maximumMembers else { return .full }
    members[callee] = Member(parent: caller, depth: position.depth + 1)
    return .recorded
  }
}

/// What a ledger answered for one call.
public enum DelegationOutcome: String, Codable, Sendable, CaseIterable {
  /// A new edge was added.
  case recorded
  /// The same edge was already there (idempotent).
  case repeated
  /// No hop: the caller is a member (or became the root of a new chain).
  case member
  case cycle
  case depth
  case unknownMember = "unknown_member"
  /// The chain holds as many members as a chain may.
  case full

  /// Outcomes that deny the call, and the reason they deny it with.
  public var denial: ReasonCode? {
    switch self {
    case .recorded, .repeated, .member: nil
    case .cycle: .delegationCycle
    case .depth, .full: .delegationDepth
    case .unknownMember: .delegationUnknownMember
    }
  }
}
