import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

@testable import RemitControlPlane

@Suite struct SignInThrottleTests {
  @Test func failuresBeyondTheLimitAreRefusedUntilTheWindowEnds() {
    let throttle = SignInThrottle(limit: 3, windowSeconds: 60)
    for second in 0..<3 {
      #expect(throttle.retryAfter("10.0.0.1", now: 1000 + Int64(second)) == nil)
      throttle.recordFailure("10.0.0.1", now: 1000 + Int64(second))
    }
    #expect(throttle.retryAfter("10.0.0.1", now: 1003) == 57)
    #expect(throttle.retryAfter("10.0.0.1", now: 1059) == 1)
    #expect(throttle.retryAfter("10.0.0.1", now: 1060) == nil)
    // Another address is counted on its own.
    #expect(throttle.retryAfter("10.0.0.2", now: 1003) == nil)
    // A new window starts from the next failure.
    throttle.recordFailure("10.0.0.1", now: 1060)
    #expect(throttle.retryAfter("10.0.0.1", now: 1061) == nil)
  }

  @Test func aSuccessClearsTheFailures() {
    let throttle = SignInThrottle(limit: 2, windowSeconds: 60)
    throttle.recordFailure("a", now: 0)
    throttle.recordSuccess("a")
    throttle.recordFailure("a", now: 1)
    #expect(throttle.retryAfter("a", now: 2) == nil)
  }

  @Test func theTableIsBoundedAndAFloodOfAddressesSharesOneEntry() {
    let throttle = SignInThrottle(limit: 2, windowSeconds: 60, maximumClients: 4)
    for client in 0..<100 { throttle.recordFailure("10.1.0.\(client)", now: 0) }
    #expect(throttle.trackedClients == 5)  // four addresses and the overflow entry
    // The addresses the table could not take were counted together, and are refused together.
    #expect(throttle.retryAfter("10.1.0.99", now: 1) != nil)
    #expect(throttle.retryAfter("10.9.9.9", now: 1) != nil)
    // Once the windows expire, the table makes room again.
    throttle.recordFailure("10.2.0.1", now: 61)
    #expect(throttle.retryAfter("10.2.0.1", now: 62) == nil)
    #expect(throttle.trackedClients == 1)
  }

  @Test func theSignInFormRefusesAClientOverTheLimitEvenWithTheRightKey() async throws {
    let fixture = try await ControlPlaneFixture.make()
    // The throttle reads a clock the test moves: a loaded machine cannot make the window pass
    // between two sign-ins, and the test need not sleep through it.
    let clock = Mutex<Int64>(1_000_000)
    let throttle = SignInThrottle(limit: 2, windowSeconds: 60, clock: { clock.withLock { $0 } })
    try await fixture.withDashboard(signInThrottle: throttle) { client in
      let browser = DashboardBrowser(client)
      #expect(try await browser.signIn("remit_wrong_1").status == .unauthorized)
      clock.withLock { $0 += 10 }
      #expect(try await browser.signIn("remit_wrong_2").status == .unauthorized)
      clock.withLock { $0 += 5 }
      let refused = try await browser.signIn(fixture.adminKey)
      #expect(refused.status == .tooManyRequests)
      // The window began at the first failure, 15 seconds ago.
      #expect(refused.headers[.retryAfter] == "45")
      #expect(refused.text.contains("Too many failed sign-ins"))
      #expect(refused.text.contains("Try again in 45 seconds"))
      #expect(browser.cookies[DashboardSecurity.sessionCookie] == nil)
      clock.withLock { $0 += 44 }
      #expect(try await browser.signIn(fixture.adminKey).status == .tooManyRequests)
      clock.withLock { $0 += 1 }
      let signIn = try await browser.signIn(fixture.adminKey)
      #expect(signIn.status == .seeOther)
      #expect(signIn.headers[.location] == "/ui/agents")
      #expect(browser.cookies[DashboardSecurity.sessionCookie] != nil)
    }
  }
}
