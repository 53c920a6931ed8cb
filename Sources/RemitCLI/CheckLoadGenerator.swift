import EnvoyAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Histogram
import RemitAuthorizer
import SwiftProtobuf

/// A load generator for `envoy.service.auth.v3.Authorization/Check`: a fixed number of HTTP/2
/// connections, a fixed number of callers sharing them, an optional target rate, and latency
/// recorded in an HDR histogram. It drives `remit serve` and `remit bench serve-noop` alike, so
/// one run can compare them (BENCHMARKS.md).
struct CheckLoadGenerator: Sendable {
  struct Configuration: Sendable {
    var target: ListenAddress
    /// HTTP/2 connections; callers are spread over them round robin.
    var connections: Int = 1
    /// Calls in flight at once, in total.
    var concurrency: Int = 8
    /// Calls per second in total; nil runs closed loop (each caller sends as soon as it has an answer).
    var rate: Double? = nil
    var duration: Duration = .seconds(10)
    /// Calls in the warm-up are made but not counted.
    var warmUp: Duration = .seconds(1)
  }

  /// What a run measured. Latency is in nanoseconds; with a rate it is measured from the time a call
  /// was due, not when it was sent, so a stalled server is not hidden (coordinated omission).
  struct Report: Sendable {
    /// Calls counted: due (or sent, without a rate) after the warm-up and finished before the end.
    var requests: UInt64 = 0
    /// Every call sent, warm-up and stragglers included; what a rate bounds.
    var sent: UInt64 = 0
    var allowed: UInt64 = 0
    var denied: UInt64 = 0
    var errors: UInt64 = 0
    /// The first gRPC error seen, for the operator to act on.
    var firstError: String? = nil
    var measured: Duration = .zero
    var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)

    var throughput: Double {
      let seconds = Double(measured.components.seconds) + Double(measured.components.attoseconds) / 1e18
      return seconds > 0 ? Double(requests) / seconds : 0
    }

    mutating func merge(_ other: Report) {
      requests += other.requests
      sent += other.sent
      allowed += other.allowed
      denied += other.denied
      errors += other.errors
      firstError = firstError ?? other.firstError
      latency.add(other.latency)
    }
  }

  /// How long a caller waits after a failed call before the next one.
  static let pauseAfterError: Duration = .milliseconds(10)

  let configuration: Configuration
  /// Serialized CheckRequests, sent in turn: caller `i` starts at request `i` and steps through all.
  let requests: [[UInt8]]

  init(configuration: Configuration, requests: [[UInt8]]) throws(ConfigurationError) {
    guard !requests.isEmpty else {
      throw ConfigurationError(code: "bench_no_requests", message: "give at least one --request file")
    }
    guard (1...1024).contains(configuration.connections) else {
      throw ConfigurationError(code: "bench_connections_invalid", message: "--connections must be 1 to 1024")
    }
    guard (1...100_000).contains(configuration.concurrency), configuration.concurrency >= configuration.connections
    else {
      throw ConfigurationError(
        code: "bench_concurrency_invalid",
        message: "--concurrency must be 1 to 100000 and at least --connections")
    }
    if let rate = configuration.rate, !(rate > 0 && rate.isFinite) {
      throw ConfigurationError(code: "bench_rate_invalid", message: "--rate must be a positive number")
    }
    guard configuration.duration > .zero, configuration.warmUp >= .zero else {
      throw ConfigurationError(
        code: "bench_duration_invalid", message: "--duration must be positive and --warmup not negative")
    }
    self.configuration = configuration
    self.requests = requests
  }

  /// Reads a CheckRequest file: proto3 JSON when it ends in `.json`, binary protobuf otherwise.
  static func loadRequest(path: String) throws -> [UInt8] {
    let data: Data
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
      throw ConfigurationError(code: "bench_request_unreadable", message: "cannot read \(path): \(error)")
    }
    do {
      let request: Envoy_Service_Auth_V3_CheckRequest
      if path.hasSuffix(".json") {
        var options = JSONDecodingOptions()
        options.ignoreUnknownFields = true  // as `remit check`: the examples carry notes
        request = try Envoy_Service_Auth_V3_CheckRequest(jsonUTF8Data: data, options: options)
      } else {
        request = try Envoy_Service_Auth_V3_CheckRequest(serializedBytes: data)
      }
      return try request.serializedBytes()
    } catch {
      throw ConfigurationError(
        code: "bench_request_invalid",
        message: "\(path) is not a CheckRequest (proto3 JSON for .json, binary protobuf otherwise): \(error)")
    }
  }

  func run() async throws -> Report {
    let clients = try (0..<configuration.connections).map { _ in
      GRPCClient(
        transport: try HTTP2ClientTransport.Posix(target: resolvableTarget, transportSecurity: .plaintext))
    }
    let clock = ContinuousClock()
    let start = clock.now.advanced(by: .milliseconds(50))  // callers begin together
    let countFrom = start.advanced(by: configuration.warmUp)
    let end = countFrom.advanced(by: configuration.duration)
    // Each caller's interval between due times, so that all together make the rate.
    let interval: Duration? = configuration.rate.map { .seconds(Double(configuration.concurrency) / $0) }

    return try await withThrowingTaskGroup(of: Void.self) { connections in
      for client in clients {
        connections.addTask { try await client.runConnections() }
      }
      defer {
        for client in clients { client.beginGracefulShutdown() }
      }
      var report = await withTaskGroup(of: Report.self) { callers in
        for caller in 0..<configuration.concurrency {
          let client = clients[caller % clients.count]
          callers.addTask {
            await call(
              client: client, caller: caller, clock: clock, start: start, countFrom: countFrom, end: end,
              interval: interval)
          }
        }
        var total = Report()
        for await report in callers { total.merge(report) }
        return total
      }
      report.measured = configuration.duration
      return report
    }
  }

  /// One caller: sends until `end`, counting what completes between `countFrom` and `end`.
  private func call(
    client: GRPCClient<HTTP2ClientTransport.Posix>, caller: Int, clock: ContinuousClock,
    start: ContinuousClock.Instant, countFrom: ContinuousClock.Instant, end: ContinuousClock.Instant,
    interval: Duration?
  ) async -> Report {
    var report = Report()
    var index = caller % requests.count
    // With a rate, callers are staggered across one interval so calls are evenly spaced.
    var due = start + (interval.map { $0 * (Double(caller) / Double(configuration.concurrency)) } ?? .zero)
    try? await clock.sleep(until: due)
    while !Task.isCancelled {
      let sent = clock.now
      if sent >= end { break }
      let from = interval == nil ? sent : due
      let outcome: Result<Bool, any Error>
      do {
        let allowed = try await client.unary(
          request: ClientRequest(message: requests[index]),
          descriptor: Envoy_Service_Auth_V3_Authorization.Method.Check.descriptor,
          serializer: BytesSerializer(),
          deserializer: CheckOutcomeDeserializer(),
          options: .defaults
        ) { try $0.message }
        outcome = .success(allowed)
      } catch {
        outcome = .failure(error)
      }
      let finished = clock.now
      report.sent += 1
      if from >= countFrom && finished <= end {
        report.requests += 1
        switch outcome {
        case .success(true): report.allowed += 1
        case .success(false): report.denied += 1
        case .failure(let error):
          report.errors += 1
          if report.firstError == nil { report.firstError = "\(error)" }
        }
        let elapsed = from.duration(to: finished).components
        _ = report.latency.record(UInt64(max(0, elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)))
      }
      index = (index + 1) % requests.count
      // A server that is down fails calls at once; without a pause the callers would spin and
      // starve everything else on the machine (the server too, when it comes back).
      if case .failure = outcome { try? await clock.sleep(for: Self.pauseAfterError) }
      if let interval {
        due = due.advanced(by: interval)
        if due > clock.now { try? await clock.sleep(until: due) }
      }
    }
    return report
  }

  private var resolvableTarget: any ResolvableTarget {
    let host = configuration.target.host
    let port = configuration.target.port
    if host.contains(":") { return .ipv6(address: host, port: port) }
    if host.split(separator: ".").count == 4, host.allSatisfy({ $0.isNumber || $0 == "." }) {
      return .ipv4(address: host, port: port)
    }
    return .dns(host: host, port: port)
  }
}

/// Sends bytes exactly as loaded, so the generator spends no time encoding.
private struct BytesSerializer: MessageSerializer {
  func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
}

/// Decodes a CheckResponse to whether it allowed (status code 0).
private struct CheckOutcomeDeserializer: MessageDeserializer {
  func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> Bool {
    let response = try serializedMessageBytes.withUnsafeBytes {
      try Envoy_Service_Auth_V3_CheckResponse(serializedBytes: Array($0))
    }
    return response.status.code == 0
  }
}
