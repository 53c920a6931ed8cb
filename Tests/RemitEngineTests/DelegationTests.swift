import Synchronization
import Testing

@testable import RemitEngine

@Suite struct DelegationChainTests {
  @Test func treeRules() {
    var chain = DelegationChain(id: "c", root: "a")
    #expect(chain.apply(caller: "a", callee: nil, maxDepth: 2, maximumMembers: 10) == .member)
    #expect(chain.apply(caller: "a", callee: "b", maxDepth: 2, maximumMembers: 10) == .recorded)
    #expect(chain.apply(caller: "a", callee: "b", maxDepth: 2, maximumMembers: 10) == .repeated)
    #expect(chain.apply(caller: "b", callee: "c", maxDepth: 2, maximumMembers: 10) == .recorded)
    // Back to an ancestor, to itself, or to a member reached by another edge: a cycle.
    #expect(chain.apply(caller: "c", callee: "a", maxDepth: 2, maximumMembers: 10) == .cycle)
    #expect(chain.apply(caller: "b", callee: "b", maxDepth: 2, maximumMembers: 10) == .cycle)
    #expect(chain.apply(caller: "a", callee: "c", maxDepth: 2, maximumMembers: 10) == .cycle)
    #expect(chain.apply(caller: "c", callee: "d", maxDepth: 2, maximumMembers: 10) == .depth)
    #expect(chain.apply(caller: "x", callee: "d", maxDepth: 2, maximumMembers: 10) == .unknownMember)
    #expect(chain.apply(caller: "x", callee: nil, maxDepth: 2, maximumMembers: 10) == .unknownMember)
    #expect(chain.apply(caller: "a", callee: "e", maxDepth: 2, maximumMembers: 3) == .full)
    #expect(chain.path(to: "c") == ["a", "b", "c"])
    #expect(chain.path(to: "d") == nil)
    #expect(chain.members.count == 3)
  }

  @Test func rebuiltFromEdgesIgnoresWhatCannotAttach() {
    let chain = DelegationChain(
      id: "c", root: "a", edges: [("a", "b"), ("b", "c"), ("x", "y"), ("a", "c")])
    #expect(chain.members.keys.sorted() == ["a", "b", "c"])
    #expect(chain.path(to: "c") == ["a", "b", "c"])
    #expect(chain.members["c"]?.depth == 2)
  }

  @Test func outcomesMapToStableReasons() {
    #expect(DelegationOutcome.cycle.denial == .delegationCycle)
    #expect(DelegationOutcome.depth.denial == .delegationDepth)
    #expect(DelegationOutcome.full.denial == .delegationDepth)
    #expect(DelegationOutcome.unknownMember.denial == .delegationUnknownMember)
    #expect(DelegationOutcome.unknownMember.rawValue == "unknown_member")
    #expect([DelegationOutcome.recorded, .repeated, .member].allSatisfy { $0.denial == nil })
  }

  @Test func hopsAreValidatedBeforeTheyAreStored() {
    #expect(DelegationHop(chainId: "c-1", caller: "a", callee: "ns/sa", maxDepth: 4, ttlSeconds: 60).problem == nil)
    #expect(
      DelegationHop(chainId: "", caller: "a", callee: nil, maxDepth: 4, ttlSeconds: 60).problem?.field == "chainId")
    #expect(
      DelegationHop(chainId: "c d", caller: "a", callee: nil, maxDepth: 4, ttlSeconds: 60).problem?.field == "chainId")
    #expect(
      DelegationHop(chainId: "c", caller: "a\n", callee: nil, maxDepth: 4, ttlSeconds: 60).problem?.field == "caller")
    #expect(
      DelegationHop(chainId: "c", caller: "a", callee: "", maxDepth: 4, ttlSeconds: 60).problem?.field == "callee")
    #expect(
      DelegationHop(chainId: "c", caller: "a", callee: nil, maxDepth: 33, ttlSeconds: 60).problem?.field == "maxDepth")
    #expect(
      DelegationHop(chainId: "c", caller: "a", callee: nil, maxDepth: 4, ttlSeconds: 0).problem?.field == "ttlSeconds")
  }
}

/// A clock the test moves by hand.
final class ManualClock: Sendable {
  let start = ContinuousClock.now
  let offset = Mutex(Duration.zero)

  func advance(_ duration: Duration) { offset.withLock { $0 += duration } }

  var now: @Sendable () -> ContinuousClock.Instant { { [self] in start + offset.withLock { $0 } } }
}

@Suite struct InMemoryDelegationLedgerTests {
  func hop(_ caller: String, _ callee: String?, chain: String = "c", ttl: Int = 60) -> DelegationHop {
    DelegationHop(chainId: chain, caller: caller, callee: callee, maxDepth: 3, ttlSeconds: ttl)
  }

  @Test func aNewChainIsRootedAtItsFirstCaller() throws {
    let ledger = InMemoryDelegationLedger()
    #expect(try ledger.recordNow(hop("a", "b")) == DelegationRecord(outcome: .recorded, callerPath: ["a"]))
    #expect(try ledger.recordNow(hop("b", nil)) == DelegationRecord(outcome: .member, callerPath: ["a", "b"]))
    #expect(try ledger.recordNow(hop("b", "a")).outcome == .cycle)
    #expect(try ledger.recordNow(hop("z", nil)).outcome == .unknownMember)
    // A tool call with a fresh chain id starts a chain with the caller alone.
    #expect(try ledger.recordNow(hop("z", nil, chain: "d")) == DelegationRecord(outcome: .member, callerPath: ["z"]))
    #expect(ledger.chain("d")?.root == "z")
  }

  @Test func aDeniedCallStartsNoChain() throws {
    let ledger = InMemoryDelegationLedger()
    #expect(try ledger.recordNow(hop("a", "a", chain: "self")).outcome == .cycle)
    #expect(ledger.chain("self") == nil)
    #expect(ledger.chainCount == 0)
  }

  @Test func chainsExpireAfterTTLWithoutAHop() throws {
    let clock = ManualClock()
    let ledger = InMemoryDelegationLedger(now: clock.now)
    _ = try ledger.recordNow(hop("a", "b", ttl: 60))
    clock.advance(.seconds(50))
    // A member's own call is no hop: it does not keep the chain alive.
    #expect(try ledger.recordNow(hop("b", nil, ttl: 60)).outcome == .member)
    clock.advance(.seconds(5))
    #expect(try ledger.recordNow(hop("a", "b", ttl: 60)).outcome == .repeated)  // refreshes to 115 s
    clock.advance(.seconds(59))
    #expect(ledger.chain("c") != nil)
    clock.advance(.seconds(2))
    #expect(ledger.chain("c") == nil)
    // After expiry the id starts over: b is the root of a new chain and a is unknown to it.
    #expect(try ledger.recordNow(hop("b", nil)) == DelegationRecord(outcome: .member, callerPath: ["b"]))
    #expect(try ledger.recordNow(hop("a", "b")).outcome == .unknownMember)
  }

  @Test func aFullLedgerRefusesNewChainsButServesLiveOnes() throws {
    let clock = ManualClock()
    let ledger = InMemoryDelegationLedger(maximumChains: 2, now: clock.now)
    _ = try ledger.recordNow(hop("a", "b", chain: "one"))
    _ = try ledger.recordNow(hop("a", "b", chain: "two"))
    #expect(throws: DelegationLedgerError.self) { try ledger.recordNow(hop("a", "b", chain: "three")) }
    #expect(try ledger.recordNow(hop("b", "c", chain: "one")).outcome == .recorded)
    clock.advance(.seconds(61))
    #expect(try ledger.recordNow(hop("a", "b", chain: "three")).outcome == .recorded)
  }

  @Test func parallelHopsOnOneChainLoseNoEdgeAndMissNoCycle() async throws {
    let ledger = InMemoryDelegationLedger()
    _ = try ledger.recordNow(
      DelegationHop(chainId: "p", caller: "root", callee: nil, maxDepth: 8, ttlSeconds: 60))
    // 64 agents each join under the root, and each then tries to call the root back.
    let outcomes = await withTaskGroup(of: (DelegationOutcome, DelegationOutcome).self) { group in
      for index in 0..<64 {
        group.addTask {
          let join = try? await ledger.record(
            DelegationHop(chainId: "p", caller: "root", callee: "a\(index)", maxDepth: 8, ttlSeconds: 60))
          let back = try? await ledger.record(
            DelegationHop(chainId: "p", caller: "a\(index)", callee: "root", maxDepth: 8, ttlSeconds: 60))
          return (join?.outcome ?? .full, back?.outcome ?? .full)
        }
      }
      var all: [(DelegationOutcome, DelegationOutcome)] = []
      for await outcome in group { all.append(outcome) }
      return all
    }
    #expect(outcomes.allSatisfy { $0.0 == .recorded && $0.1 == .cycle })
    let chain = try #require(ledger.chain("p"))
    #expect(chain.members.count == 65)
    #expect(chain.members.values.filter { $0.parent == "root" }.count == 64)
  }

  @Test func invalidHopsAreErrorsNotChains() {
    let ledger = InMemoryDelegationLedger()
    #expect(throws: DelegationLedgerError.self) { try ledger.recordNow(hop("a", "b", chain: "bad id")) }
  }
}

@Suite struct MissionCoverageTests {
  @Test func globs() {
    #expect(MissionCoverage.covers(glob: "*", "anything_*"))
    #expect(MissionCoverage.covers(glob: "search_*", "search_web"))
    #expect(MissionCoverage.covers(glob: "search_*", "search_web_*"))
    #expect(MissionCoverage.covers(glob: "s*_v2", "search_*_v2"))
    #expect(!MissionCoverage.covers(glob: "search_web", "search_*"))
    #expect(!MissionCoverage.covers(glob: "search_*", "sea*"))
    #expect(!MissionCoverage.covers(glob: "search_*", "*_search"))
    // Unprovable shapes are not covered even when they would be.
    #expect(!MissionCoverage.covers(glob: "a*b*c", "a1b2c*"))
  }

  @Test func paths() {
    #expect(MissionCoverage.covers(path: "/api/**", "/api/v1/*"))
    #expect(MissionCoverage.covers(path: "/api/**", "/api/v1/items"))
    #expect(MissionCoverage.covers(path: "/api/*/items", "/api/v*/items"))
    #expect(!MissionCoverage.covers(path: "/api/v1/*", "/api/**"))
    #expect(!MissionCoverage.covers(path: "/api/*", "/api/*/x"))
    #expect(!MissionCoverage.covers(path: "/api/v1/items", "/api/v1/*"))
  }

  @Test func hostsAndWorkloads() {
    #expect(MissionCoverage.covers(host: "*.example.com", "api.example.com"))
    #expect(MissionCoverage.covers(host: "*.example.com", "*.eu.example.com"))
    #expect(!MissionCoverage.covers(host: "*.example.com", "example.com"))
    #expect(!MissionCoverage.covers(host: "api.example.com", "*.example.com"))
    #expect(MissionCoverage.covers(workload: "tools/*", "tools/search"))
    #expect(!MissionCoverage.covers(workload: "tools/search", "tools/*"))
  }

  @Test func missions() {
    typealias M = PolicyDocument.Mission
    typealias G = PolicyDocument.Grant
    let outer = M(
      id: "outer",
      allow: [
        G(to: "tools/search", mcp: .init(tools: ["search_*"])),
        G(to: "tools/catalog", http: [.init(methods: ["GET"], paths: ["/api/**"])]),
        G(to: "tools/everything"),
        G(to: "agents/*", a2a: .init(methods: ["message/send", "tasks/*"])),
      ],
      egress: ["*.example.com"])
    let inside = M(
      id: "inside",
      allow: [
        G(to: "tools/search", mcp: .init(tools: ["search_web"])),
        G(to: "tools/catalog", http: [.init(methods: ["GET"], paths: ["/api/v1/items/*"])]),
        G(to: "tools/everything", http: [.init(methods: ["POST"], paths: ["/x"])]),
        G(to: "agents/writer", a2a: .init(methods: ["tasks/get"])),
      ],
      egress: ["api.example.com"])
    #expect(MissionCoverage.covers(outer, inside))
    var wider = inside
    wider.allow?.append(G(to: "tools/search", mcp: .init(tools: ["delete_all"])))
    #expect(!MissionCoverage.covers(outer, wider))
    var anyMethod = inside
    anyMethod.allow = [G(to: "tools/catalog", http: [.init(paths: ["/api/v1"])])]
    #expect(!MissionCoverage.covers(outer, anyMethod))
    var whole = inside
    whole.allow = [G(to: "tools/search")]
    #expect(!MissionCoverage.covers(outer, whole))
    var egress = inside
    egress.egress = ["evil.test"]
    #expect(!MissionCoverage.covers(outer, egress))
    #expect(MissionCoverage.covers(outer, M(id: "empty")))
  }
}
