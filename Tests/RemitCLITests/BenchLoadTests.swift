import Foundation
import Logging
import RemitAuthorizer
import Testing

@testable import RemitCLI

/// `remit bench load` against the no-op server and the real authorizer, in process on port 0.
@Suite struct BenchLoadTests {
  static let requests = CLIHarness.repository.appendingPathComponent("examples/requests")

  static func request(_ name: String) throws -> [UInt8] {
    try CheckLoadGenerator.loadRequest(path: requests.appendingPathComponent("\(name).json").path)
  }

  /// Runs `server` until `body` returns, handing it the bound port.
  static func serving(
    _ server: @Sendable @escaping (@Sendable @escaping (Int) -> Void) async throws -> Void,
    _ body: @Sendable (Int) async throws -> Void
  ) async throws {
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask {
        defer { continuation.finish() }
        try await server { continuation.yield($0) }
      }
      var iterator = ports.makeAsyncIterator()
      let port = try #require(await iterator.next())
      try await body(port)
      group.cancelAll()
    }
  }

  static func load(
    port: Int, requests: [[UInt8]], connections: Int = 2, concurrency: Int = 4, rate: Double? = nil
  ) async throws -> CheckLoadGenerator.Report {
    let configuration = CheckLoadGenerator.Configuration(
      target: ListenAddress(host: "127.0.0.1", port: port), connections: connections, concurrency: concurrency,
      rate: rate, duration: .milliseconds(1500), warmUp: .milliseconds(500))
    return try await CheckLoadGenerator(configuration: configuration, requests: requests).run()
  }

  @Test func theNoopServerAllowsEveryCall() async throws {
    let noop = NoopCheckServer(listen: ListenAddress(host: "127.0.0.1", port: 0), logger: Logger(label: "test"))
    let denied = try Self.request("tools-call-denied")
    try await Self.serving({ try await noop.run(onListening: $0) }) { port in
      let report = try await Self.load(port: port, requests: [denied])
      #expect(report.requests > 10)
      #expect(report.allowed == report.requests)
      #expect(report.errors == 0)
      #expect(report.latency.totalCount == report.requests)
      #expect(report.latency.valueAtPercentile(50) > 0)
      #expect(report.throughput > 0)
    }
  }

  @Test func theAuthorizerDecidesTheMix() async throws {
    let configuration = AuthorizerConfiguration(
      policyFile: CLITests.examplePolicy, listen: ListenAddress(host: "127.0.0.1", port: 0), adminListen: nil)
    let mix = [try Self.request("tools-call-allowed"), try Self.request("tools-call-denied")]
    // Made inside the server task, as the authorizer's own test harness does.
    let server: @Sendable (@Sendable @escaping (Int) -> Void) async throws -> Void = { onListening in
      let authorizer = try Authorizer(configuration: configuration, logger: Logger(label: "test"))
      try await authorizer.run(onListening: onListening)
    }
    try await Self.serving(server) { port in
      let report = try await Self.load(port: port, requests: mix)
      #expect(report.errors == 0, "\(report.firstError ?? "")")
      #expect(report.allowed > 5)
      #expect(report.denied > 5)
      #expect(report.allowed + report.denied == report.requests)
    }
  }

  /// 100 calls/s over the 0.5 s warm-up and 1.5 s run is at most about 200 calls, however fast the
  /// server answers; closed loop, even a debug build makes thousands in that time.
  @Test func aRateBoundsTheCalls() async throws {
    let noop = NoopCheckServer(listen: ListenAddress(host: "127.0.0.1", port: 0), logger: Logger(label: "test"))
    let request = try Self.request("tools-call-allowed")
    try await Self.serving({ try await noop.run(onListening: $0) }) { port in
      let report = try await Self.load(port: port, requests: [request], connections: 1, concurrency: 2, rate: 100)
      // Only the upper bound is the point. How many are counted depends on how busy the machine is
      // (a CI machine running every suite at once stalled this one for seconds), so the lower
      // bound asks only that calls were made.
      #expect(report.sent >= 1, "no call was sent")
      #expect(report.sent <= 200 + 2 + 2, "\(report.sent) calls sent")
      #expect(report.requests <= 150 + 2, "\(report.requests) calls counted")
      #expect(report.requests <= report.sent)
    }
  }

  @Test func aServerThatIsNotThereCountsErrors() async throws {
    // Bind and close a port so nothing listens on it.
    let noop = NoopCheckServer(listen: ListenAddress(host: "127.0.0.1", port: 0), logger: Logger(label: "test"))
    let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await noop.run(onListening: { continuation.yield($0) }) }
      var iterator = stream.makeAsyncIterator()
      let port = try #require(await iterator.next())
      group.cancelAll()
      try? await group.waitForAll()
      let report = try await Self.load(port: port, requests: [try Self.request("tools-call-allowed")])
      #expect(report.allowed == 0)
      #expect(report.errors > 0)
      #expect(report.errors == report.requests)
      #expect(report.firstError != nil)
      // Each caller pauses after a failure instead of spinning: 4 callers over 1.5 s.
      #expect(report.errors <= 4 * 150 + 4)
    }
  }

  @Test func badArgumentsAreRefusedWithACode() throws {
    let target = ListenAddress(host: "127.0.0.1", port: 1)
    #expect(throws: ConfigurationError.self) {
      try CheckLoadGenerator(configuration: .init(target: target), requests: [])
    }
    #expect(throws: ConfigurationError.self) {
      try CheckLoadGenerator(configuration: .init(target: target, connections: 4, concurrency: 2), requests: [[]])
    }
    #expect(throws: ConfigurationError.self) {
      try CheckLoadGenerator(configuration: .init(target: target, rate: 0), requests: [[]])
    }
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).json")
    try Data("{\"attributes\": 3}".utf8).write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    do {
      _ = try CheckLoadGenerator.loadRequest(path: file.path)
      Issue.record("a bad request file loaded")
    } catch let error as ConfigurationError {
      #expect(error.code == "bench_request_invalid")
    }
  }
}
