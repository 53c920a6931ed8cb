import Foundation
import Hummingbird
import HummingbirdTesting
import RemitEngine
import SQLKit
import Testing

@testable import RemitControlPlane

/// The control plane's delegation ledger (`POST /v1/delegations/hops`), on SQLite and PostgreSQL.
@Suite struct DelegationLedgerTests {
  static func hopJSON(
    _ chain: String, _ caller: String, _ callee: String?, maxDepth: Int = 4, ttl: Int = 60
  ) -> String {
    let hop = DelegationHop(chainId: chain, caller: caller, callee: callee, maxDepth: maxDepth, ttlSeconds: ttl)
    return String(decoding: (try? JSONEncoder().encode(hop)) ?? Data(), as: UTF8.self)
  }

  static func hop(
    _ client: any TestClientProtocol, key: String, _ chain: String, _ caller: String, _ callee: String?,
    maxDepth: Int = 4, ttl: Int = 60
  ) async throws -> DelegationRecord {
    let response = try await client.send(
      .post, "/v1/delegations/hops", key: key, json: hopJSON(chain, caller, callee, maxDepth: maxDepth, ttl: ttl))
    #expect(response.status == .ok, "\(response.text)")
    return try response.decoded(DelegationRecord.self)
  }

  @Test(arguments: TestBackend.all) func hopsFollowTheTreeRules(_ backend: TestBackend) async throws {
    let clock = TestClock()
    let fixture = try await ControlPlaneFixture.make(backend, options: .init(now: { clock.now() }))
    let authorizer = try await fixture.store.issueKey(tenant: "default", role: .authorizer)
    try await fixture.withAPI { client in
      func hop(_ caller: String, _ callee: String?, maxDepth: Int = 3) async throws -> DelegationRecord {
        try await Self.hop(client, key: authorizer.key, "chain-1", caller, callee, maxDepth: maxDepth)
      }
      // The first caller roots the chain.
      #expect(try await hop("planner", "researcher") == .init(outcome: .recorded, callerPath: ["planner"]))
      #expect(try await hop("planner", "researcher") == .init(outcome: .repeated, callerPath: ["planner"]))
      #expect(
        try await hop("researcher", "browser") == .init(outcome: .recorded, callerPath: ["planner", "researcher"]))
      #expect(
        try await hop("browser", nil) == .init(outcome: .member, callerPath: ["planner", "researcher", "browser"]))
      // Cycles: itself, an ancestor, a member by another edge.
      #expect(try await hop("browser", "browser").outcome == .cycle)
      #expect(try await hop("browser", "planner").outcome == .cycle)
      #expect(try await hop("browser", "researcher").outcome == .cycle)
      #expect(try await hop("planner", "browser").outcome == .cycle)
      // Depth: browser is at depth 2; a callee at 3 is allowed with maxDepth 3, not with 2.
      #expect(try await hop("browser", "scraper", maxDepth: 2).outcome == .depth)
      #expect(try await hop("browser", "scraper", maxDepth: 3).outcome == .recorded)
      // A caller that is not in the chain.
      #expect(try await hop("stranger", "planner") == .init(outcome: .unknownMember, callerPath: []))
      #expect(try await hop("stranger", nil).outcome == .unknownMember)

      let detail = try await client.send(.get, "/v1/delegations/chains/chain-1", key: fixture.adminKey)
      #expect(detail.status == .ok, "\(detail.text)")
      let chain = try detail.decoded(DelegationChainDetail.self)
      #expect(chain.root == "planner")
      #expect(
        chain.members == [
          .init(agent: "planner", parent: nil, depth: 0), .init(agent: "researcher", parent: "planner", depth: 1),
          .init(agent: "browser", parent: "researcher", depth: 2), .init(agent: "scraper", parent: "browser", depth: 3),
        ])
      #expect(detail.text.contains(#""parent":null"#))
      #expect(chain.created == clock.now() && chain.lastHop == clock.now())
      #expect(chain.expires == clock.now().addingTimeInterval(60))
      #expect(!chain.expired)
    }
  }

  @Test(arguments: TestBackend.all) func deniedCallsNeitherStartNorRefreshAChainAndChainsExpire(
    _ backend: TestBackend
  ) async throws {
    let clock = TestClock()
    let fixture = try await ControlPlaneFixture.make(backend, options: .init(now: { clock.now() }))
    let key = fixture.adminKey
    let store = fixture.store
    try await fixture.withAPI { client in
      // A self-cycle on a new chain id starts nothing.
      #expect(try await Self.hop(client, key: key, "c", "a", "a").outcome == .cycle)
      #expect(try await store.delegationChains(tenant: "default").chains.isEmpty)
      // A tool call (no callee) on a new id starts a chain rooted at the caller.
      #expect(try await Self.hop(client, key: key, "c", "a", nil) == .init(outcome: .member, callerPath: ["a"]))
      #expect(try await Self.hop(client, key: key, "c", "a", "b", ttl: 10).outcome == .recorded)
      let started = clock.now()

      // `member` on a live chain and denied hops do not refresh it.
      clock.advance(seconds: 9)
      #expect(try await Self.hop(client, key: key, "c", "b", nil, ttl: 10).outcome == .member)
      #expect(try await Self.hop(client, key: key, "c", "b", "a", ttl: 10).outcome == .cycle)
      var chain = try await store.delegationChain(tenant: "default", id: "c")
      #expect(chain.expires == started.addingTimeInterval(10))
      #expect(chain.lastHop == started)

      // A repeated edge refreshes it to now + ttl.
      #expect(try await Self.hop(client, key: key, "c", "a", "b", ttl: 10).outcome == .repeated)
      chain = try await store.delegationChain(tenant: "default", id: "c")
      #expect(chain.expires == clock.now().addingTimeInterval(10))
      #expect(chain.lastHop == clock.now())

      // Ten seconds without a hop: expired. Listed as such until swept, then a new chain.
      clock.advance(seconds: 10)
      let listed = try await client.send(.get, "/v1/delegations/chains", key: key).decoded(DelegationChainList.self)
      #expect(listed.chains.map(\.expired) == [true])
      // b is a member of the expired chain, but the chain is treated as absent: b roots a new one.
      #expect(
        try await Self.hop(client, key: key, "c", "b", "a", ttl: 10) == .init(outcome: .recorded, callerPath: ["b"]))
      chain = try await store.delegationChain(tenant: "default", id: "c")
      #expect(chain.root == "b")
      #expect(chain.members.map(\.agent) == ["b", "a"])
      #expect(chain.created == clock.now())

      // An expired chain and a denied hop: the chain stays gone (not refreshed, not restarted).
      clock.advance(seconds: 10)
      #expect(try await Self.hop(client, key: key, "c", "z", "z", ttl: 10).outcome == .cycle)
      let gone = try await client.send(.get, "/v1/delegations/chains/c", key: key)
      #expect(gone.status == .notFound)
      #expect(try await Self.countedChains(store) == 0)
    }
  }

  static func countedChains(_ store: ControlPlaneStore, tenant: String = "default") async throws -> Int64 {
    try await store.database.read { db in
      try await db.raw("SELECT stored FROM delegation_chain_counts WHERE tenant = \(bind: tenant)").first()?
        .decode(column: "stored", as: Int64.self) ?? 0
    }
  }

  @Test(arguments: TestBackend.all) func expiredChainsAreSweptInBatches(_ backend: TestBackend) async throws {
    let clock = TestClock()
    let fixture = try await ControlPlaneFixture.make(
      backend, options: .init(now: { clock.now() }, delegationSweepBatch: 3))
    let store = fixture.store
    for index in 0..<7 {
      _ = try await store.recordHop(
        tenant: "default", .init(chainId: "old-\(index)", caller: "a", callee: "b", maxDepth: 2, ttlSeconds: 5))
    }
    _ = try await store.recordHop(
      tenant: "default", .init(chainId: "live", caller: "a", callee: "b", maxDepth: 2, ttlSeconds: 500))
    #expect(try await Self.countedChains(store) == 8)
    clock.advance(seconds: 6)
    #expect(try await store.sweepExpiredChains() == 3)
    #expect(try await store.sweepExpiredChains() == 3)
    #expect(try await store.sweepExpiredChains() == 1)
    #expect(try await store.sweepExpiredChains() == 0)
    #expect(try await store.delegationChains(tenant: "default").chains.map(\.id) == ["live"])
    #expect(try await Self.countedChains(store) == 1)
    let edges = try await store.database.read { db in
      try await db.raw("SELECT COUNT(*) AS count FROM delegation_edges").first()?.decode(column: "count", as: Int.self)
    }
    #expect(edges == 1)
    try await store.close()
  }

  @Test(arguments: TestBackend.all) func chainsPerTenantAreBounded(_ backend: TestBackend) async throws {
    let clock = TestClock()
    let fixture = try await ControlPlaneFixture.make(
      backend, options: .init(now: { clock.now() }, delegationChainsPerTenant: 2))
    let acme = try await fixture.store.createTenant("acme")
    try await fixture.withAPI { client in
      #expect(try await Self.hop(client, key: fixture.adminKey, "one", "a", "b", ttl: 30).outcome == .recorded)
      #expect(try await Self.hop(client, key: fixture.adminKey, "two", "a", "b", ttl: 60).outcome == .recorded)
      let refused = try await client.send(
        .post, "/v1/delegations/hops", key: fixture.adminKey, json: Self.hopJSON("three", "a", "b"))
      #expect(refused.status == .conflict)
      #expect(refused.errorBody?.error.code == "delegation_chains_full")
      // Hops on existing chains go on; another tenant has its own bound.
      #expect(try await Self.hop(client, key: fixture.adminKey, "one", "b", "c", ttl: 30).outcome == .recorded)
      #expect(try await Self.hop(client, key: acme.key, "three", "a", "b").outcome == .recorded)
      // Once a chain expired, it is swept to make room.
      clock.advance(seconds: 31)
      #expect(try await Self.hop(client, key: fixture.adminKey, "three", "a", "b").outcome == .recorded)
      let ids = try await client.send(.get, "/v1/delegations/chains", key: fixture.adminKey)
        .decoded(DelegationChainList.self).chains.map(\.id)
      #expect(Set(ids) == ["two", "three"])
    }
  }

  @Test(arguments: TestBackend.all) func membersPerChainAreBounded(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    let store = fixture.store
    // The root and 1023 children fill the chain: one hop, then the other edges stored directly.
    let first = try await store.recordHop(
      tenant: "default", .init(chainId: "big", caller: "root", callee: "m1", maxDepth: 1, ttlSeconds: 60))
    #expect(first.outcome == .recorded)
    try await store.database.transaction { db in
      for index in 2..<DelegationHop.maximumMembers {
        try await db.raw(
          """
          INSERT INTO delegation_edges (tenant, chain, seq, parent, child)
          VALUES ('default', 'big', \(bind: index), 'root', \(bind: "m\(index)"))
          """
        ).run()
      }
    }
    #expect(
      try await store.recordHop(
        tenant: "default", .init(chainId: "big", caller: "root", callee: "m1023", maxDepth: 1, ttlSeconds: 60)
      ).outcome == .repeated)
    let full = try await store.recordHop(
      tenant: "default", .init(chainId: "big", caller: "root", callee: "one-more", maxDepth: 1, ttlSeconds: 60))
    #expect(full.outcome == .full)
    #expect(
      try await store.delegationChains(tenant: "default").chains.first?.memberCount == DelegationHop.maximumMembers)
    try await store.close()
  }

  @Test(arguments: TestBackend.all) func chainsAreScopedToTheirTenantAndToRoles(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    let acme = try await fixture.store.createTenant("acme")
    let reader = try await fixture.store.issueKey(tenant: "default", role: .reader)
    let authorizer = try await fixture.store.issueKey(tenant: "default", role: .authorizer)
    try await fixture.withAPI { client in
      #expect(try await Self.hop(client, key: authorizer.key, "shared-id", "a", "b").outcome == .recorded)
      // Another tenant's key sees no chain, and the same id starts its own chain there.
      #expect(try await client.send(.get, "/v1/delegations/chains/shared-id", key: acme.key).status == .notFound)
      #expect(try await client.send(.get, "/v1/delegations/chains", key: acme.key).text == #"{"chains":[]}"#)
      #expect(try await Self.hop(client, key: acme.key, "shared-id", "b", "a").outcome == .recorded)
      #expect(try await Self.hop(client, key: authorizer.key, "shared-id", "b", "c").outcome == .recorded)
      let ours = try await client.send(.get, "/v1/delegations/chains/shared-id", key: reader.key)
        .decoded(DelegationChainDetail.self)
      #expect(ours.members.map(\.agent) == ["a", "b", "c"])
      let theirs = try await client.send(.get, "/v1/delegations/chains/shared-id", key: acme.key)
        .decoded(DelegationChainDetail.self)
      #expect(theirs.members.map(\.agent) == ["b", "a"])

      // Readers read chains but may not record hops; authorizers record but may not read.
      let body = Self.hopJSON("x", "a", "b")
      #expect(try await client.send(.post, "/v1/delegations/hops", key: reader.key, json: body).status == .forbidden)
      #expect(try await client.send(.post, "/v1/delegations/hops", key: nil, json: body).status == .unauthorized)
      #expect(try await client.send(.get, "/v1/delegations/chains", key: authorizer.key).status == .forbidden)
    }
  }

  @Test(arguments: TestBackend.all) func invalidHopsAre422NamingTheField(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    try await fixture.withAPI { client in
      let key = fixture.adminKey
      for (body, field) in [
        (#"{"caller": "a", "maxDepth": 2, "ttlSeconds": 5}"#, "chainId"),
        (#"{"chainId": "c d", "caller": "a", "maxDepth": 2, "ttlSeconds": 5}"#, "chainId"),
        (#"{"chainId": "c", "caller": "A B", "maxDepth": 2, "ttlSeconds": 5}"#, "caller"),
        (#"{"chainId": "c", "caller": "a", "callee": "", "maxDepth": 2, "ttlSeconds": 5}"#, "callee"),
        (#"{"chainId": "c", "caller": "a", "maxDepth": 0, "ttlSeconds": 5}"#, "maxDepth"),
        (#"{"chainId": "c", "caller": "a", "maxDepth": 33, "ttlSeconds": 5}"#, "maxDepth"),
        (#"{"chainId": "c", "caller": "a", "maxDepth": 2, "ttlSeconds": 86401}"#, "ttlSeconds"),
        (#"{"chainId": "c", "caller": "a", "maxDepth": "2", "ttlSeconds": 5}"#, "maxDepth"),
        (
          "{\"chainId\": \"\(String(repeating: "c", count: 129))\", \"caller\": \"a\", \"maxDepth\": 2, \"ttlSeconds\": 5}",
          "chainId"
        ),
      ] {
        let response = try await client.send(.post, "/v1/delegations/hops", key: key, json: body)
        #expect(response.status == .unprocessableContent, "\(body): \(response.text)")
        #expect(response.errorBody?.error.field == field, "\(body)")
      }
      #expect(try await client.send(.post, "/v1/delegations/hops", key: key, json: "nope").status == .badRequest)
      let huge =
        #"{"chainId": "c", "caller": "a", "maxDepth": 2, "ttlSeconds": 5, "pad": ""#
        + String(repeating: "x", count: 8192) + #""}"#
      #expect(try await client.send(.post, "/v1/delegations/hops", key: key, json: huge).status == .contentTooLarge)
      #expect(try await fixture.store.delegationChains(tenant: "default").chains.isEmpty)
      #expect(try await client.send(.get, "/v1/delegations/chains?limit=501", key: key).status == .unprocessableContent)
      #expect(try await client.send(.get, "/v1/delegations/chains?limit=0", key: key).status == .unprocessableContent)
    }
  }

  @Test(arguments: TestBackend.all) func chainsAreListedByMostRecentHop(_ backend: TestBackend) async throws {
    let clock = TestClock()
    let fixture = try await ControlPlaneFixture.make(backend, options: .init(now: { clock.now() }))
    let store = fixture.store
    for index in 0..<5 {
      _ = try await store.recordHop(
        tenant: "default", .init(chainId: "c\(index)", caller: "a", callee: "b", maxDepth: 2, ttlSeconds: 600))
      clock.advance(seconds: 1)
    }
    // A hop on c1 makes it the most recent.
    _ = try await store.recordHop(
      tenant: "default", .init(chainId: "c1", caller: "b", callee: "c", maxDepth: 2, ttlSeconds: 600))
    try await fixture.withAPI { client in
      let response = try await client.send(.get, "/v1/delegations/chains?limit=3", key: fixture.adminKey)
      let list = try response.decoded(DelegationChainList.self)
      #expect(list.chains.map(\.id) == ["c1", "c4", "c3"])
      #expect(list.chains.map(\.memberCount) == [3, 2, 2])
      #expect(response.text.contains(#""expired":false"#))
      #expect(list.chains.first?.lastHop == clock.now())
      #expect(
        try await client.send(.get, "/v1/delegations/chains", key: fixture.adminKey)
          .decoded(DelegationChainList.self).chains.count == 5)
    }
  }

  @Test(arguments: TestBackend.all) func auditEventsFilterByChain(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    var inChain = auditEvent("in-chain", offset: 1)
    inChain.chainId = "chain-7"
    var other = auditEvent("other-chain", offset: 2)
    other.chainId = "chain-8"
    let none = auditEvent("no-chain", offset: 3)
    _ = try await fixture.store.appendAuditEvents(tenant: "default", authorizer: "authz-1", [inChain, other, none])
    try await fixture.withAPI { client in
      let page = try await client.send(.get, "/v1/audit/events?chain=chain-7", key: fixture.adminKey)
        .decoded(AuditPage.self)
      #expect(page.events.map(\.decisionId) == ["in-chain"])
      #expect(
        try await client.send(.get, "/v1/audit/events", key: fixture.adminKey).decoded(AuditPage.self).events
          .count == 3)
      let bad = try await client.send(.get, "/v1/audit/events?chain=a%20b", key: fixture.adminKey)
      #expect(bad.status == .unprocessableContent)
      #expect(bad.errorBody?.error.field == "chain")
    }
  }

  /// 50 hops in parallel build a tree on one chain while cycle attempts race them: afterwards
  /// every recorded edge is stored, no member has two parents and no cycle got in.
  @Test(arguments: TestBackend.all) func parallelHopsOnOneChainLoseNoEdgeAndMissNoCycle(_ backend: TestBackend)
    async throws
  {
    let fixture = try await ControlPlaneFixture.make(backend)
    let key = fixture.adminKey
    try await fixture.withAPI { client in
      #expect(try await Self.hop(client, key: key, "race", "n0", nil, maxDepth: 32, ttl: 600).outcome == .member)
      // Level by level: each new node y is claimed by two members at once (its parent and
      // another), while y also tries to call back up. Exactly one claim may win.
      var members = ["n0"]
      var parents: [String: String] = [:]
      var recorded: [(String, String)] = []
      var next = 1
      while next <= 50 {
        let wave = (next..<min(next + 12, 51)).map { "n\($0)" }
        next += wave.count
        let snapshot = members
        let outcomes = try await withThrowingTaskGroup(of: (String, String, DelegationOutcome).self) { group in
          for (offset, node) in wave.enumerated() {
            let first = snapshot[offset % snapshot.count]
            let second = snapshot[(offset + 1) % snapshot.count]
            for caller in Set([first, second]) {
              group.addTask {
                (
                  caller, node,
                  try await Self.hop(client, key: key, "race", caller, node, maxDepth: 32, ttl: 600).outcome
                )
              }
            }
            group.addTask {
              (node, first, try await Self.hop(client, key: key, "race", node, first, maxDepth: 32, ttl: 600).outcome)
            }
          }
          var all: [(String, String, DelegationOutcome)] = []
          for try await outcome in group { all.append(outcome) }
          return all
        }
        for node in wave {
          let claims = outcomes.filter { $0.1 == node }
          let winners = claims.filter { $0.2 == .recorded }
          #expect(winners.count == 1, "\(node): \(claims)")
          #expect(claims.allSatisfy { [.recorded, .cycle].contains($0.2) }, "\(node): \(claims)")
          if let winner = winners.first {
            parents[node] = winner.0
            recorded.append((winner.0, node))
          }
          // The callback up the tree: unknown before the node joined, a cycle after.
          let back = outcomes.filter { $0.0 == node }
          #expect(back.allSatisfy { [.unknownMember, .cycle].contains($0.2) }, "\(node): \(back)")
        }
        members += wave
      }
      // Every member calls the root again: all cycles.
      let cycles = try await withThrowingTaskGroup(of: DelegationOutcome.self) { group in
        for member in members.dropFirst() {
          group.addTask { try await Self.hop(client, key: key, "race", member, "n0", maxDepth: 32, ttl: 600).outcome }
        }
        var all: [DelegationOutcome] = []
        for try await outcome in group { all.append(outcome) }
        return all
      }
      #expect(cycles.count == 50 && cycles.allSatisfy { $0 == .cycle })

      let chain = try await client.send(.get, "/v1/delegations/chains/race", key: key)
        .decoded(DelegationChainDetail.self)
      #expect(chain.members.count == 51)
      #expect(Set(chain.members.map(\.agent)).count == 51)
      for (parent, child) in recorded {
        #expect(chain.members.first { $0.agent == child }?.parent == parent, "\(parent) → \(child)")
      }
      let edges = try await fixture.store.database.read { db in
        try await db.raw("SELECT child FROM delegation_edges WHERE chain = 'race'").all()
          .map { try $0.decode(column: "child", as: String.self) }
      }
      #expect(edges.count == 50 && Set(edges).count == 50)
    }
  }
}
