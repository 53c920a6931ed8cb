import Synchronization

/// Failed dashboard sign-ins counted per client address in a fixed window. Once a client has
/// `limit` failures in the window, its sign-ins are refused (429) without the key being checked,
/// so an API key cannot be guessed through the sign-in form faster than that.
///
/// The table is bounded: when it holds `maximumClients` entries, expired windows are dropped, and
/// if it is still full new addresses share one overflow entry (at most `maximumClients` + 1 in all) (so a flood of addresses limits
/// itself rather than growing memory or escaping the count).
final class SignInThrottle: Sendable {
  struct Window {
    var start: Int64
    var failures: Int
  }

  static let overflowKey = "(overflow)"

  let limit: Int
  let windowSeconds: Int64
  let maximumClients: Int
  /// Seconds since the epoch; tests pass a clock they move, so no test waits out a window.
  let clock: @Sendable () -> Int64
  private let windows = Mutex<[String: Window]>([:])

  init(
    limit: Int, windowSeconds: Int64, maximumClients: Int = 10_000,
    clock: @escaping @Sendable () -> Int64 = ControlPlaneStore.now
  ) {
    self.limit = max(1, limit)
    self.windowSeconds = max(1, windowSeconds)
    self.maximumClients = max(1, maximumClients)
    self.clock = clock
  }

  /// Seconds until `client` may try again now, or nil when it may try.
  func retryAfter(_ client: String) -> Int64? { retryAfter(client, now: clock()) }

  /// Counts a failed sign-in of `client` now.
  func recordFailure(_ client: String) { recordFailure(client, now: clock()) }

  /// Seconds until `client` may try again, or nil when it may try now.
  func retryAfter(_ client: String, now: Int64) -> Int64? {
    windows.withLock { windows in
      // An address the full table could not take was counted in the overflow entry.
      let untracked = windows[client] == nil && windows.count >= maximumClients
      guard let window = untracked ? windows[Self.overflowKey] : windows[client],
        now < window.start + windowSeconds, window.failures >= limit
      else { return nil }
      return window.start + windowSeconds - now
    }
  }

  /// Counts a failed sign-in of `client`.
  func recordFailure(_ client: String, now: Int64) {
    windows.withLock { windows in
      var key = client
      if windows[key] == nil, windows.count >= maximumClients {
        windows = windows.filter { now < $0.value.start + windowSeconds }
        if windows.count >= maximumClients { key = Self.overflowKey }
      }
      if var window = windows[key], now < window.start + windowSeconds {
        window.failures += 1
        windows[key] = window
      } else {
        windows[key] = Window(start: now, failures: 1)
      }
    }
  }

  /// A successful sign-in clears the client's failures.
  func recordSuccess(_ client: String) {
    _ = windows.withLock { $0.removeValue(forKey: client) }
  }

  /// Addresses tracked now (for tests).
  var trackedClients: Int { windows.withLock { $0.count } }
}
