import Benchmark
import BenchmarkFixtures
import RemitEngine

/// DLP throughput (SPEC section 13: at least 1 GB/s per core on 64 KiB bodies) on realistic JSON
/// tool-call bodies, clean and with a few secrets, with every built-in detector on; and the
/// injection heuristics on the same text. Throughput = bytes per scan / time per scan.
let benchmarks: @Sendable () -> Void = {
  Benchmark.defaultConfiguration = .init(
    metrics: [.wallClock, .throughput, .mallocCountTotal],
    timeUnits: .nanoseconds,
    warmupIterations: BenchmarkSmoke.enabled ? 1 : 10,
    scalingFactor: .one,
    maxDuration: BenchmarkSmoke.enabled ? .milliseconds(50) : .seconds(2),
    maxIterations: BenchmarkSmoke.enabled ? 5 : 100_000
  )

  let scanner = DLPScanner(builtins: Set(DLPDetector.allCases), custom: [])
  let injection = InjectionDetector()

  for shape in SampleBodies.Shape.allCases {
    for size in [1 << 10, 16 << 10, 64 << 10] {
      for dirty in [false, true] {
        let body = SampleBodies.toolCall(shape, bytes: size, dirty: dirty)
        let label = "\(shape.rawValue) \(size >> 10) KiB \(dirty ? "dirty" : "clean")"
        Benchmark("DLP scan \(label)") { benchmark in
          var matches: [DLPMatch] = []
          matches.reserveCapacity(64)
          body.withUnsafeBufferPointer { buffer in
            for _ in benchmark.scaledIterations {
              matches.removeAll(keepingCapacity: true)
              scanner.scan(buffer, into: &matches, limit: 64)
              blackHole(matches.count)
            }
          }
        }
        if !dirty {
          // The floor, side by side in the same run: one pass that touches every byte (a sum the
          // optimizer cannot drop), what any scanner of this body costs at least.
          Benchmark("Baseline byte sum \(label)") { benchmark in
            body.withUnsafeBufferPointer { buffer in
              for _ in benchmark.scaledIterations {
                var sum: UInt64 = 0
                for byte in buffer { sum &+= UInt64(byte) }
                blackHole(sum)
              }
            }
          }
          Benchmark("Injection inspect \(label)") { benchmark in
            body.withUnsafeBufferPointer { buffer in
              for _ in benchmark.scaledIterations {
                blackHole(injection.inspect(buffer))
              }
            }
          }
        }
      }
    }
  }

  // Threat-intel lookups against 10,000 indicators (SPEC section 13's engine benchmark size),
  // beside an exact-set lookup of the same strings as the floor.
  let indicators = SampleIndicators.make(count: 10_000)
  let index = ThreatIndex(indicators)
  let exactTools = Set(indicators.filter { $0.type == .tool }.map(\.value))
  let lookups: [(String, @Sendable () -> Bool)] = [
    ("tool hit (glob)", { index.matchTool("exfiltrate_records") != nil }),
    ("tool miss", { index.matchTool("get_stock") != nil }),
    ("host hit (subdomain)", { index.matchHost("cdn.bad-4711.example") != nil }),
    ("host miss", { index.matchHost("api.payments.example.com") != nil }),
    ("ipv4 hit (cidr)", { index.matchHost("198.51.100.77") != nil }),
    ("url miss", { index.matchURL("https://api.payments.example.com/v1/charges/ch_123") != nil }),
    ("hash miss", { index.matchHash("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08") != nil }),
    ("baseline Set<String> contains", { exactTools.contains("get_stock") }),
  ]
  for (name, lookup) in lookups {
    Benchmark("Threat intel 10k \(name)", configuration: .init(scalingFactor: .kilo)) { benchmark in
      for _ in benchmark.scaledIterations { blackHole(lookup()) }
    }
  }
}

/// 10,000 deterministic indicators of every type: exact and glob tools, domains, IPv4 and IPv6
/// addresses, CIDRs, URLs and SHA-256 hashes.
