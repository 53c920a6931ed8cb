import Synchronization

/// The ledger of a single authorizer on a policy file: chains in this process only. Chains
/// expire `ttlSeconds` after their last hop; at most `maximumChains` live at once, and a new
/// chain beyond that is refused (the call is denied) rather than evicting a live one, whose
/// narrowing would be lost.
public final class InMemoryDelegationLedger: DelegationLedger {
  struct Entry {
    var chain: DelegationChain
    var expiresAt: ContinuousClock.Instant
  }

  struct State {
    var chains: [String: Entry] = [:]
    var nextSweep: ContinuousClock.Instant
  }

  public let maximumChains: Int
  private let state: Mutex<State>
  private let now: @Sendable () -> ContinuousClock.Instant

  public init(
    maximumChains: Int = 100_000,
    now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
  ) {
    self.maximumChains = maximumChains
    self.now = now
    state = Mutex(State(nextSweep: now()))
  }

  public var chainCount: Int { state.withLock { $0.chains.count } }

  public func record(_ hop: DelegationHop) async throws(DelegationLedgerError) -> DelegationRecord {
    try recordNow(hop)
  }

  /// The synchronous body of `record`.
  public func recordNow(_ hop: DelegationHop) throws(DelegationLedgerError) -> DelegationRecord {
    if let problem = hop.problem {
      throw DelegationLedgerError(code: "hop_invalid", message: "\(problem.field) \(problem.message)")
    }
    let now = self.now()
    let ttl = Duration.seconds(hop.ttlSeconds)
    let maximumChains = self.maximumChains
    return try state.withLock { (state) throws(DelegationLedgerError) -> DelegationRecord in
      if now >= state.nextSweep || state.chains.count >= maximumChains {
        state.chains = state.chains.filter { $0.value.expiresAt > now }
        state.nextSweep = now + .seconds(60)
      }
      var entry: Entry
      if let existing = state.chains[hop.chainId], existing.expiresAt > now {
        entry = existing
      } else {
        guard state.chains.count < maximumChains || state.chains[hop.chainId] != nil else {
          throw DelegationLedgerError(
            code: "ledger_full", message: "\(maximumChains) delegation chains are live; no new chain can start")
        }
        // A new (or expired) chain id starts a chain rooted at this caller.
        entry = Entry(chain: DelegationChain(id: hop.chainId, root: hop.caller), expiresAt: now + ttl)
      }
      let outcome = entry.chain.apply(
        caller: hop.caller, callee: hop.callee, maxDepth: hop.maxDepth, maximumMembers: DelegationHop.maximumMembers)
      switch outcome {
      case .recorded, .repeated: entry.expiresAt = now + ttl
      default: break
      }
      // A denied call neither starts a chain nor keeps one alive.
      let isNew = state.chains[hop.chainId].map { $0.expiresAt <= now } ?? true
      if outcome.denial == nil && (isNew || outcome == .recorded || outcome == .repeated) {
        state.chains[hop.chainId] = entry
      }
      return DelegationRecord(outcome: outcome, callerPath: entry.chain.path(to: hop.caller) ?? [])
    }
  }

  /// The chain as it is now, or nil when it is unknown or expired.
  public func chain(_ id: String) -> DelegationChain? {
    let now = self.now()
    return state.withLock { state in
      guard let entry = state.chains[id], entry.expiresAt > now else { return nil }
      return entry.chain
    }
  }
}
