import Foundation
import RemitEngine
import Testing

@testable import RemitAuthorizer

#if canImport(Glibc)
  import Glibc
#endif

/// The control plane's ledger seen from the authorizer when the control plane cannot answer: the
/// hop fails within the ledger timeout, so the engine denies it. (Answers from a real control
/// plane: RemitCLITests.ControlPlaneSyncTests and Tests/e2e/test_delegation_control_plane.py.)
@Suite struct ControlPlaneLedgerTests {
  static let hop = DelegationHop(chainId: "c", caller: "a", callee: "b", maxDepth: 4, ttlSeconds: 60)

  /// A TCP port that accepts connections (the kernel's backlog) but never answers.
  static func silentListener() throws -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0, listen(fd, 16) == 0 else { throw CancellationError() }
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
  }

  @Test func aSilentControlPlaneTimesOutWithinTheLedgerTimeout() async throws {
    let (fd, port) = try Self.silentListener()
    defer { close(fd) }
    let client = ControlPlaneClient(
      connection: ControlPlaneConnection(
        baseURL: "http://127.0.0.1:\(port)", apiKey: "remit_test", instanceID: "t", stateDirectory: "/tmp",
        requestTimeout: .seconds(30), ledgerTimeout: .milliseconds(300)))
    let ledger = ControlPlaneLedger(client: client)
    let started = ContinuousClock.now
    await #expect(throws: DelegationLedgerError.self) { _ = try await ledger.record(Self.hop) }
    let took = ContinuousClock.now - started
    // The ledger's 300 ms, not the 30 s every other request may take (slack for a loaded CI box:
    // the whole test suite runs in parallel with it).
    #expect(took < .seconds(10), "took \(took)")
    await client.shutdown()
  }

  @Test func anUnreachableControlPlaneIsAnError() async throws {
    let (fd, port) = try Self.silentListener()
    close(fd)  // nothing listens there now
    let client = ControlPlaneClient(
      connection: ControlPlaneConnection(
        baseURL: "http://127.0.0.1:\(port)", apiKey: "remit_test", instanceID: "t", stateDirectory: "/tmp",
        ledgerTimeout: .milliseconds(300)))
    do {
      _ = try await ControlPlaneLedger(client: client).record(Self.hop)
      Issue.record("an unreachable ledger must not answer")
    } catch {
      #expect(error.code == "control_plane_unreachable")
    }
    await client.shutdown()
  }
}

@Suite struct ControlPlaneLedgerAnswerTests {
  static let hop = DelegationHop(chainId: "c", caller: "b", callee: "c", maxDepth: 4, ttlSeconds: 60)

  @Test func anAnswerWhosePathDoesNotEndAtTheCallerIsRefused() throws {
    #expect(
      try ControlPlaneLedger.checked(.init(outcome: .recorded, callerPath: ["a", "b"]), for: Self.hop).callerPath
        == ["a", "b"])
    // A denial carries no path to trust.
    #expect(try ControlPlaneLedger.checked(.init(outcome: .cycle, callerPath: []), for: Self.hop).outcome == .cycle)
    for path in [[], ["a"], ["b", "a"], Array(repeating: "x", count: 40) + ["b"]] {
      #expect(throws: DelegationLedgerError.self) {
        try ControlPlaneLedger.checked(.init(outcome: .recorded, callerPath: path), for: Self.hop)
      }
    }
  }
}
