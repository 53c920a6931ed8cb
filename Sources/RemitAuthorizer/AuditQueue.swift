import Foundation
import RemitEngine
import Synchronization

/// Counts of what happened to decision events on their way to the control plane.
public struct AuditStatistics: Sendable, Equatable {
  /// Accepted by the control plane.
  public var sent = 0
  /// Written to the spool (some of them sent later).
  public var spooled = 0
  /// Lost: memory full, spool full or unwritable, or refused by the control plane as invalid.
  public var dropped = 0
}

/// The in-memory stage between the decision path and the shipper: a bounded queue the check
/// handler appends to under a short lock, never waiting. When it is full, new events are dropped
/// and counted; decisions never slow down because the control plane is slow. It holds the
/// decision as made (a copy of a value, no formatting); the shipper turns it into an `AuditEvent`
/// (bounded strings, RFC 3339 time) off the decision path.
public final class AuditQueue: Sendable {
  struct Pending: Sendable {
    var decision: Decision
    var id: String
    var time: Date
    var latencyMicroseconds: Int
  }

  let capacity: Int
  private let state: Mutex<State>

  struct State {
    var events: [Pending] = []
    var statistics = AuditStatistics()
  }

  public init(capacity: Int) {
    self.capacity = max(1, capacity)
    state = Mutex(State())
  }

  public func append(_ decision: Decision, id: String, time: Date, latencyMicroseconds: Int) {
    let pending = Pending(decision: decision, id: id, time: time, latencyMicroseconds: latencyMicroseconds)
    state.withLock { state in
      if state.events.count >= capacity {
        state.statistics.dropped += 1
      } else {
        state.events.append(pending)
      }
    }
  }

  /// Takes up to `limit` of the oldest events, as the control plane receives them.
  func take(upTo limit: Int) -> [AuditEvent] {
    let taken = state.withLock { state in
      let count = min(limit, state.events.count)
      let taken = Array(state.events.prefix(count))
      state.events.removeFirst(count)
      return taken
    }
    return taken.map {
      AuditEvent($0.decision, id: $0.id, time: $0.time, latencyMicroseconds: $0.latencyMicroseconds)
    }
  }

  public var count: Int { state.withLock { $0.events.count } }

  public var statistics: AuditStatistics { state.withLock { $0.statistics } }

  func record(_ body: (inout AuditStatistics) -> Void) { state.withLock { body(&$0.statistics) } }
}
