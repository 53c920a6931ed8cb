import ArgumentParser
import Foundation
import Logging
import RemitAuthorizer

/// Tools for benchmarking Remit against a baseline (BENCHMARKS.md).
struct BenchCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Benchmark helpers: a Check load generator, and a no-op Check server to compare `remit serve` against.",
    subcommands: [Load.self, ServeNoop.self]
  )

  struct ServeNoop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "serve-noop",
      abstract:
        "Serve envoy.service.auth.v3.Authorization/Check answering OK to everything, on the authorizer's gRPC stack.",
      discussion: """
        A baseline, never an authorizer: it allows every request without looking at it. Plaintext \
        on a loopback address only. Prints `remit bench: no-op Check server listening on HOST:PORT` \
        once it serves; stops on SIGTERM or SIGINT.
        """
    )

    @Option(name: .long, help: "gRPC listen address HOST:PORT on loopback (default 127.0.0.1:9191; port 0 picks one).")
    var listen: String = "127.0.0.1:9191"

    func run() async throws {
      let address = try ListenAddress(parsing: listen)
      guard address.isLoopback else {
        throw ValidationError("--listen must be a loopback address: the no-op server allows everything")
      }
      let logger = Logger(label: "remit.bench")
      let host = address.host
      try await NoopCheckServer(listen: address, logger: logger).run { port in
        print("remit bench: no-op Check server listening on \(host):\(port)")
        fflush(nil)  // all streams: a pipe would otherwise hold the line
      }
    }
  }
}
