import Foundation
import RemitEngine
import SQLKit

/// A delegation chain as `GET /v1/delegations/chains` lists it. Times are RFC 3339.
public struct DelegationChainSummary: Codable, Sendable, Equatable {
  public var id: String
  public var root: String
  public var created: Date
  /// The last hop that started or refreshed the chain.
  public var lastHop: Date
  public var expires: Date
  /// True once `expires` has passed: the next hop with this id starts a new chain.
  public var expired: Bool
  /// How many agents the chain holds, root included.
  public var memberCount: Int

  enum CodingKeys: String, CodingKey { case id, root, created, lastHop, expires, expired, memberCount }

  public init(
    id: String, root: String, created: Date, lastHop: Date, expires: Date, expired: Bool, memberCount: Int
  ) {
    self.id = id
    self.root = root
    self.created = created
    self.lastHop = lastHop
    self.expires = expires
    self.expired = expired
    self.memberCount = memberCount
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    id = try container.decode(String.self, forKey: .id)
    root = try container.decode(String.self, forKey: .root)
    created = try container.decode(RFC3339Time.self, forKey: .created).wrappedValue
    lastHop = try container.decode(RFC3339Time.self, forKey: .lastHop).wrappedValue
    expires = try container.decode(RFC3339Time.self, forKey: .expires).wrappedValue
    expired = try container.decode(Bool.self, forKey: .expired)
    memberCount = try container.decode(Int.self, forKey: .memberCount)
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(id, forKey: .id)
    try container.encode(root, forKey: .root)
    try container.encode(RFC3339.string(created), forKey: .created)
    try container.encode(RFC3339.string(lastHop), forKey: .lastHop)
    try container.encode(RFC3339.string(expires), forKey: .expires)
    try container.encode(expired, forKey: .expired)
    try container.encode(memberCount, forKey: .memberCount)
  }
}

/// `GET /v1/delegations/chains`: the most recent chains first.
public struct DelegationChainList: Codable, Sendable, Equatable {
  public var chains: [DelegationChainSummary]
}

/// One chain with its tree: `GET /v1/delegations/chains/{id}`.
public struct DelegationChainDetail: Codable, Sendable, Equatable {
  public struct Member: Codable, Sendable, Equatable {
    public var agent: String
    /// Nil for the root.
    public var parent: String?
    public var depth: Int

    public init(agent: String, parent: String?, depth: Int) {
      self.agent = agent
      self.parent = parent
      self.depth = depth
    }

    // `parent: null` for the root, rather than a missing key.
    public func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(agent, forKey: .agent)
      try container.encode(parent, forKey: .parent)
      try container.encode(depth, forKey: .depth)
    }
  }

  public var id: String
  public var root: String
  public var created: Date
  public var lastHop: Date
  public var expires: Date
  public var expired: Bool
  /// Tree order: the root first, then each member followed by its subtree, children in the
  /// order their hops were recorded.
  public var members: [Member]

  enum CodingKeys: String, CodingKey { case id, root, created, lastHop, expires, expired, members }

  public init(
    id: String, root: String, created: Date, lastHop: Date, expires: Date, expired: Bool, members: [Member]
  ) {
    self.id = id
    self.root = root
    self.created = created
    self.lastHop = lastHop
    self.expires = expires
    self.expired = expired
    self.members = members
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    id = try container.decode(String.self, forKey: .id)
    root = try container.decode(String.self, forKey: .root)
    created = try container.decode(RFC3339Time.self, forKey: .created).wrappedValue
    lastHop = try container.decode(RFC3339Time.self, forKey: .lastHop).wrappedValue
    expires = try container.decode(RFC3339Time.self, forKey: .expires).wrappedValue
    expired = try container.decode(Bool.self, forKey: .expired)
    members = try container.decode([Member].self, forKey: .members)
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(id, forKey: .id)
    try container.encode(root, forKey: .root)
    try container.encode(RFC3339.string(created), forKey: .created)
    try container.encode(RFC3339.string(lastHop), forKey: .lastHop)
    try container.encode(RFC3339.string(expires), forKey: .expires)
    try container.encode(expired, forKey: .expired)
    try container.encode(members, forKey: .members)
  }

  /// The members of `chain` in tree order (depth-first, children in recorded order).
  static func treeOrder(root: String, edges: [(parent: String, child: String)]) -> [Member] {
    var children: [String: [String]] = [:]
    for edge in edges { children[edge.parent, default: []].append(edge.child) }
    var members: [Member] = []
    var seen: Set<String> = []
    // An explicit stack: depth is bounded by maxDepth, but the walk does not rely on it.
    var stack: [(agent: String, parent: String?, depth: Int)] = [(root, nil, 0)]
    while let next = stack.popLast() {
      guard seen.insert(next.agent).inserted else { continue }
      members.append(Member(agent: next.agent, parent: next.parent, depth: next.depth))
      for child in (children[next.agent] ?? []).reversed() {
        stack.append((child, next.agent, next.depth + 1))
      }
    }
    return members
  }
}

extension ControlPlaneStore {
  /// The largest `limit` of `GET /v1/delegations/chains`.
  public static let maximumChainListLimit = 500
  public static let defaultChainListLimit = 100

  static func delegationChainsFull(_ limit: Int) -> ControlPlaneError {
    ControlPlaneError(
      status: .conflict, code: "delegation_chains_full",
      message:
        "the tenant already holds \(limit) delegation chains; no new chain can start until expired ones are swept (chains expire ttlSeconds after their last hop)"
    )
  }

  /// Records one call made inside a delegation chain (SPEC section 6) in one transaction, with
  /// the rules of `DelegationChain` and the semantics of `InMemoryDelegationLedger`: a new or
  /// expired chain id starts a chain rooted at the caller; a denied call neither starts nor
  /// refreshes a chain; `recorded` and `repeated` refresh its expiry to now + ttlSeconds; `member`
  /// on a live chain does not.
  ///
  /// Concurrency: every hop on a chain first takes the chain's row lock (on PostgreSQL an
  /// `INSERT … ON CONFLICT DO NOTHING` of a placeholder, then `SELECT … FOR UPDATE`; SQLite runs
  /// one transaction at a time), so hops on one chain from any number of control-plane processes
  /// apply one after another to the edges the previous one committed.
  public func recordHop(tenant: String, _ hop: DelegationHop) async throws -> DelegationRecord {
    if let problem = hop.problem { throw ControlPlaneError.validation(field: problem.field, problem.message) }
    try await sweepExpiredChainsIfDue()
    do {
      return try await recordHopOnce(tenant: tenant, hop)
    } catch let error as ControlPlaneError where error.code == "delegation_chains_full" {
      // Expired chains still count until swept: sweep them now, then try once more.
      try await sweepExpiredChains()
      return try await recordHopOnce(tenant: tenant, hop)
    }
  }

  private func recordHopOnce(tenant: String, _ hop: DelegationHop) async throws -> DelegationRecord {
    let now = RFC3339.microseconds(options.now())
    let expires = now + Int64(hop.ttlSeconds) * 1_000_000
    let chainLimit = options.delegationChainsPerTenant
    return try await database.transaction { db in
      _ = try await Self.version(tenant: tenant, db: db)
      let forUpdate = db.dialect.name == "postgresql" ? " FOR UPDATE" : ""
      // The placeholder (expires_us 0: absent) makes the row exist to be locked; it is removed
      // again, or becomes the chain, before commit. A row deleted by a concurrent transaction
      // between the two statements (an expired chain a denied hop removed) is inserted again.
      var inserted = false
      var locked: (any SQLRow)?
      for _ in 0..<3 where locked == nil {
        inserted =
          try await db.raw(
            """
            INSERT INTO delegation_chains (tenant, id, root, created_us, last_hop_us, expires_us)
            VALUES (\(bind: tenant), \(bind: hop.chainId), \(bind: hop.caller), \(bind: now), \(bind: now), 0)
            ON CONFLICT (tenant, id) DO NOTHING RETURNING id
            """
          ).first() != nil
        locked = try await db.raw(
          "SELECT root, expires_us FROM delegation_chains WHERE tenant = \(bind: tenant) AND id = \(bind: hop.chainId)"
            + SQLQueryString(forUpdate)
        ).first()
      }
      guard let row = locked else {
        throw ControlPlaneError(
          status: .serviceUnavailable, code: "delegation_busy",
          message: "the chain was changed concurrently three times in a row; retry the hop")
      }
      let isLive = try row.decode(column: "expires_us", as: Int64.self) > now
      var chain: DelegationChain
      if isLive {
        let edges = try await db.raw(
          """
          SELECT parent, child FROM delegation_edges WHERE tenant = \(bind: tenant) AND chain = \(bind: hop.chainId)
          ORDER BY seq
          """
        ).all().map {
          (
            parent: try $0.decode(column: "parent", as: String.self),
            child: try $0.decode(column: "child", as: String.self)
          )
        }
        chain = DelegationChain(
          id: hop.chainId, root: try row.decode(column: "root", as: String.self), edges: edges)
      } else {
        // New, or expired: treated as absent, its edges go first.
        if !inserted {
          try await db.raw(
            "DELETE FROM delegation_edges WHERE tenant = \(bind: tenant) AND chain = \(bind: hop.chainId)"
          ).run()
        }
        chain = DelegationChain(id: hop.chainId, root: hop.caller)
      }
      let outcome = chain.apply(
        caller: hop.caller, callee: hop.callee, maxDepth: hop.maxDepth, maximumMembers: DelegationHop.maximumMembers)
      let record = DelegationRecord(outcome: outcome, callerPath: chain.path(to: hop.caller) ?? [])

      if outcome.denial != nil {
        // Neither starts nor refreshes: a placeholder or an expired chain goes away.
        if !isLive {
          try await db.raw(
            "DELETE FROM delegation_chains WHERE tenant = \(bind: tenant) AND id = \(bind: hop.chainId)"
          ).run()
          if !inserted { try await Self.countChains(tenant: tenant, by: -1, db: db) }
        }
        return record
      }
      if !isLive {
        if inserted {
          let stored = try await Self.countChains(tenant: tenant, by: 1, db: db)
          if stored > Int64(chainLimit) { throw Self.delegationChainsFull(chainLimit) }
        }
        try await db.raw(
          """
          UPDATE delegation_chains SET root = \(bind: hop.caller), created_us = \(bind: now),
          last_hop_us = \(bind: now), expires_us = \(bind: expires)
          WHERE tenant = \(bind: tenant) AND id = \(bind: hop.chainId)
          """
        ).run()
      } else if outcome == .recorded || outcome == .repeated {
        try await db.raw(
          """
          UPDATE delegation_chains SET last_hop_us = \(bind: now), expires_us = \(bind: expires)
          WHERE tenant = \(bind: tenant) AND id = \(bind: hop.chainId)
          """
        ).run()
      }
      if outcome == .recorded, let callee = hop.callee {
        try await db.raw(
          """
          INSERT INTO delegation_edges (tenant, chain, seq, parent, child)
          VALUES (\(bind: tenant), \(bind: hop.chainId), \(bind: chain.members.count - 1), \(bind: hop.caller),
          \(bind: callee))
          """
        ).run()
      }
      return record
    }
  }

  /// Adds `delta` to the tenant's chain count and returns the new count.
  @discardableResult
  static func countChains(tenant: String, by delta: Int64, db: any SQLDatabase) async throws -> Int64 {
    try await db.raw(
      """
      INSERT INTO delegation_chain_counts (tenant, stored) VALUES (\(bind: tenant), \(bind: max(0, delta)))
      ON CONFLICT (tenant) DO UPDATE SET stored = delegation_chain_counts.stored + \(bind: delta)
      RETURNING stored
      """
    ).first()?.decode(column: "stored", as: Int64.self) ?? 0
  }

  /// Sweeps when `delegationSweepInterval` has passed since this process last did (or at once
  /// when the last sweep found a full batch).
  func sweepExpiredChainsIfDue() async throws {
    let now = RFC3339.microseconds(options.now())
    let due = nextDelegationSweep.withLock { next in
      guard now >= next else { return false }
      next = now + Self.microseconds(options.delegationSweepInterval)
      return true
    }
    guard due else { return }
    let swept = try await sweepExpiredChains()
    if swept >= options.delegationSweepBatch { nextDelegationSweep.withLock { $0 = now } }
  }

  /// Deletes up to `delegationSweepBatch` expired chains of any tenant (their edges go with them)
  /// and returns how many. On PostgreSQL one process sweeps at a time (an advisory lock); the
  /// others skip.
  @discardableResult
  public func sweepExpiredChains() async throws -> Int {
    let now = RFC3339.microseconds(options.now())
    let batch = options.delegationSweepBatch
    return try await database.transaction { db in
      if db.dialect.name == "postgresql" {
        // 0x72656d6974 is "remit": any constant shared by every process.
        let locked =
          try await db.raw("SELECT pg_try_advisory_xact_lock(491496549748) AS locked").first()?
          .decode(column: "locked", as: Bool.self) ?? false
        guard locked else { return 0 }
      }
      let expired = try await db.raw(
        """
        SELECT tenant, id FROM delegation_chains WHERE expires_us > 0 AND expires_us <= \(bind: now)
        ORDER BY expires_us LIMIT \(bind: batch)
        """
      ).all().map {
        (tenant: try $0.decode(column: "tenant", as: String.self), id: try $0.decode(column: "id", as: String.self))
      }
      var removed: [String: Int64] = [:]
      for chain in expired {
        // Re-checked: a hop may have refreshed it since the SELECT (PostgreSQL waits for the
        // hop's row lock, then evaluates the condition on the row the hop committed).
        let deleted = try await db.raw(
          """
          DELETE FROM delegation_chains WHERE tenant = \(bind: chain.tenant) AND id = \(bind: chain.id)
          AND expires_us > 0 AND expires_us <= \(bind: now) RETURNING id
          """
        ).first()
        guard deleted != nil else { continue }
        // The foreign key cascades; explicit, so no engine setting decides it.
        try await db.raw(
          "DELETE FROM delegation_edges WHERE tenant = \(bind: chain.tenant) AND chain = \(bind: chain.id)"
        ).run()
        removed[chain.tenant, default: 0] += 1
      }
      for (tenant, count) in removed.sorted(by: { $0.key < $1.key }) {
        try await Self.countChains(tenant: tenant, by: -count, db: db)
      }
      return expired.count
    }
  }

  /// The tenant's chains, most recent last hop first.
  public func delegationChains(tenant: String, limit: Int = defaultChainListLimit) async throws
    -> DelegationChainList
  {
    guard (1...Self.maximumChainListLimit).contains(limit) else {
      throw ControlPlaneError.validation(field: "limit", "must be an integer from 1 to \(Self.maximumChainListLimit)")
    }
    let now = RFC3339.microseconds(options.now())
    let chains = try await database.read { db in
      _ = try await Self.version(tenant: tenant, db: db)
      return try await db.raw(
        """
        SELECT c.id, c.root, c.created_us, c.last_hop_us, c.expires_us,
        (SELECT COUNT(*) FROM delegation_edges e WHERE e.tenant = c.tenant AND e.chain = c.id) AS edges
        FROM delegation_chains c WHERE c.tenant = \(bind: tenant) AND c.expires_us > 0
        ORDER BY c.last_hop_us DESC, c.id DESC LIMIT \(bind: limit)
        """
      ).all().map { row in
        let expires = try row.decode(column: "expires_us", as: Int64.self)
        return DelegationChainSummary(
          id: try row.decode(column: "id", as: String.self),
          root: try row.decode(column: "root", as: String.self),
          created: RFC3339.date(microseconds: try row.decode(column: "created_us", as: Int64.self)),
          lastHop: RFC3339.date(microseconds: try row.decode(column: "last_hop_us", as: Int64.self)),
          expires: RFC3339.date(microseconds: expires), expired: expires <= now,
          memberCount: 1 + (try row.decode(column: "edges", as: Int.self)))
      }
    }
    return DelegationChainList(chains: chains)
  }

  /// One chain with its members in tree order; 404 when the tenant has no chain by that id.
  public func delegationChain(tenant: String, id: String) async throws -> DelegationChainDetail {
    guard DelegationHop.isValidChainID(id) else { throw ControlPlaneError.notFound("delegation chain \(id)") }
    let now = RFC3339.microseconds(options.now())
    let found = try await database.read { db -> DelegationChainDetail? in
      _ = try await Self.version(tenant: tenant, db: db)
      guard
        let row = try await db.raw(
          """
          SELECT id, root, created_us, last_hop_us, expires_us FROM delegation_chains
          WHERE tenant = \(bind: tenant) AND id = \(bind: id) AND expires_us > 0
          """
        ).first()
      else { return nil }
      let edges = try await db.raw(
        "SELECT parent, child FROM delegation_edges WHERE tenant = \(bind: tenant) AND chain = \(bind: id) ORDER BY seq"
      ).all().map {
        (
          parent: try $0.decode(column: "parent", as: String.self),
          child: try $0.decode(column: "child", as: String.self)
        )
      }
      let root = try row.decode(column: "root", as: String.self)
      let expires = try row.decode(column: "expires_us", as: Int64.self)
      return DelegationChainDetail(
        id: id, root: root,
        created: RFC3339.date(microseconds: try row.decode(column: "created_us", as: Int64.self)),
        lastHop: RFC3339.date(microseconds: try row.decode(column: "last_hop_us", as: Int64.self)),
        expires: RFC3339.date(microseconds: expires), expired: expires <= now,
        members: DelegationChainDetail.treeOrder(root: root, edges: edges))
    }
    guard let found else { throw ControlPlaneError.notFound("delegation chain \(id)") }
    return found
  }
}
