/// Long-poll support: requests wait here until their tenant's policy version moves past the one
/// they know or their wait ends. Commits publish the new version; the number of waiters is bounded.
public actor PolicyVersionWatch {
  public static let defaultMaximumWaiters = 1024

  private struct Waiter {
    let tenant: String
    let continuation: CheckedContinuation<Bool, Never>
  }

  private let maximumWaiters: Int
  private var latest: [String: Int64] = [:]
  private var waiters: [UInt64: Waiter] = [:]
  private var nextID: UInt64 = 0

  public init(maximumWaiters: Int = PolicyVersionWatch.defaultMaximumWaiters) {
    self.maximumWaiters = maximumWaiters
  }

  public var waiterCount: Int { waiters.count }

  /// Records a committed version and wakes the tenant's waiters.
  public func publish(tenant: String, version: Int64) {
    if version > latest[tenant] ?? 0 { latest[tenant] = version }
    for (id, waiter) in waiters where waiter.tenant == tenant {
      waiters[id] = nil
      waiter.continuation.resume(returning: true)
    }
  }

  public enum WaitResult: Sendable, Equatable {
    /// A version other than the known one was published (or already had been).
    case changed
    /// The wait ended with no change.
    case timedOut
    /// Too many requests are waiting already; the caller should answer at once.
    case tooManyWaiters
  }

  /// Waits up to `timeout` for a version of `tenant` newer than `knownVersion`, which the caller
  /// read from the store just before. A commit between that read and this call is not missed:
  /// `publish` records the version and this checks it first, on the actor.
  public func waitForChange(tenant: String, after knownVersion: Int64, timeout: Duration) async -> WaitResult {
    if let latest = latest[tenant], latest > knownVersion { return .changed }
    guard waiters.count < maximumWaiters else { return .tooManyWaiters }
    let id = nextID
    nextID &+= 1
    let timer = Task { [weak self] in
      try? await Task.sleep(for: timeout)
      await self?.expire(id)
    }
    let changed = await withTaskCancellationHandler {
      await withCheckedContinuation { continuation in
        // Cancelled before registering: the handler below found nothing to expire.
        if Task.isCancelled {
          continuation.resume(returning: false)
        } else {
          waiters[id] = Waiter(tenant: tenant, continuation: continuation)
        }
      }
    } onCancel: {
      Task { await self.expire(id) }
    }
    timer.cancel()
    return changed ? .changed : .timedOut
  }

  private func expire(_ id: UInt64) {
    waiters.removeValue(forKey: id)?.continuation.resume(returning: false)
  }
}
