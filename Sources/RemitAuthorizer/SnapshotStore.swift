import RemitEngine
import Synchronization

/// The current policy snapshot, swapped whole when a new version is applied. Readers take a
/// reference under a short lock and then work on an immutable snapshot.
public final class SnapshotStore: Sendable {
  private let state = Mutex<PolicySnapshot?>(nil)

  public init(_ snapshot: PolicySnapshot? = nil) {
    state.withLock { $0 = snapshot }
  }

  public var current: PolicySnapshot? {
    state.withLock { $0 }
  }

  public func replace(with snapshot: PolicySnapshot) {
    state.withLock { $0 = snapshot }
  }
}
