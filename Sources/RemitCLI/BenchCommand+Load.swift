import ArgumentParser
import Foundation
import RemitAuthorizer

extension BenchCommand {
  /// `remit bench load`: drives a Check server and prints throughput and latency percentiles.
  struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "load",
      abstract: "Send Check calls to an authorizer and print throughput and latency percentiles.",
      discussion: """
        Plaintext gRPC, for a loopback benchmark of `remit serve` or `remit bench serve-noop`. Each \
        --request is a CheckRequest, proto3 JSON when the name ends in .json and binary protobuf \
        otherwise; callers send them in turn. Without --rate every caller sends again as soon as it \
        has an answer (closed loop); with --rate, calls are due at even intervals and latency counts \
        from the due time. Exits 1 on any gRPC error or, with --expect, on any other answer.
        """
    )

    @Option(name: .long, help: "The Check server, HOST:PORT.")
    var target: String = "127.0.0.1:9191"

    @Option(name: .long, help: "HTTP/2 connections.")
    var connections: Int = 1

    @Option(name: .long, help: "Calls in flight at once, over all connections.")
    var concurrency: Int = 8

    @Option(name: .long, help: "Calls per second over all callers; leave out for as fast as possible.")
    var rate: Double?

    @Option(name: .long, help: "Seconds to measure.")
    var duration: Double = 10

    @Option(name: .long, help: "Seconds of calls before measuring.")
    var warmup: Double = 1

    @Option(name: .long, help: "A CheckRequest file (.json or binary); repeat for a mix.")
    var request: [String] = []

    @Option(name: .long, help: "allow or deny: fail unless every answer is this.")
    var expect: Expectation?

    @Flag(name: .long, help: "Print the report as one JSON object.")
    var json = false

    enum Expectation: String, ExpressibleByArgument, Sendable {
      case allow, deny
    }

    func run() async throws {
      let requests = try request.map(CheckLoadGenerator.loadRequest(path:))
      let configuration = CheckLoadGenerator.Configuration(
        target: try ListenAddress(parsing: target),
        connections: connections,
        concurrency: concurrency,
        rate: rate,
        duration: .seconds(duration),
        warmUp: .seconds(warmup)
      )
      let generator = try CheckLoadGenerator(configuration: configuration, requests: requests)
      let report = try await generator.run()
      print(json ? report.json : report.text(configuration: configuration))
      fflush(nil)
      if report.errors > 0 || report.requests == 0 { throw ExitCode.failure }
      switch expect {
      case .allow where report.denied > 0: throw ExitCode.failure
      case .deny where report.allowed > 0: throw ExitCode.failure
      default: break
      }
    }
  }
}

extension CheckLoadGenerator.Report {
  /// Microseconds at a percentile, to one decimal.
  func microseconds(atPercentile percentile: Double) -> Double {
    (Double(latency.valueAtPercentile(percentile)) / 100).rounded() / 10
  }

  var meanMicroseconds: Double { (latency.mean / 100).rounded() / 10 }

  func text(configuration: CheckLoadGenerator.Configuration) -> String {
    let rate = configuration.rate.map { "\($0) calls/s" } ?? "closed loop"
    var lines = [
      "remit bench load: \(configuration.target), \(configuration.connections) connection(s), "
        + "\(configuration.concurrency) in flight, \(rate), \(configuration.duration) measured",
      "calls       \(requests) (allowed \(allowed), denied \(denied), errors \(errors))",
      "throughput  \(Int(throughput.rounded())) calls/s",
      "latency µs  mean \(meanMicroseconds)  p50 \(microseconds(atPercentile: 50))  "
        + "p90 \(microseconds(atPercentile: 90))  p99 \(microseconds(atPercentile: 99))  "
        + "p99.9 \(microseconds(atPercentile: 99.9))  max \(microseconds(atPercentile: 100))",
    ]
    if let firstError { lines.append("first error: \(firstError)") }
    return lines.joined(separator: "\n")
  }

  var json: String {
    var object: [String: Any] = [
      "requests": requests, "allowed": allowed, "denied": denied, "errors": errors,
      "throughput": (throughput * 10).rounded() / 10,
      "latency_us": [
        "mean": meanMicroseconds, "p50": microseconds(atPercentile: 50), "p90": microseconds(atPercentile: 90),
        "p99": microseconds(atPercentile: 99), "p999": microseconds(atPercentile: 99.9),
        "max": microseconds(atPercentile: 100),
      ],
    ]
    if let firstError { object["first_error"] = firstError }
    guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return "{}" }
    return String(decoding: data, as: UTF8.self)
  }
}
