import BenchmarkFixtures
import RemitEngine

// DLP scan throughput without the harness: `ScanMean [ITERATIONS] [NAME-SUBSTRING]`. Each case
// scans one body ITERATIONS times as one timed block. The byte-sum floor is in the harness
// (`swift package benchmark --target ContentScan`); this tool is for comparing two builds.
let scanner = DLPScanner(builtins: Set(DLPDetector.allCases), custom: [])
let arguments = CommandLine.arguments.dropFirst()
let iterations = arguments.first.flatMap { Int($0) } ?? 2_000
let only = arguments.dropFirst().first

func timed(_ iterations: Int, _ body: () -> Int) -> (nanoseconds: Double, sink: Int) {
  var sink = 0
  for _ in 0..<max(1, iterations / 10) { sink &+= body() }
  let started = ContinuousClock.now
  for _ in 0..<iterations { sink &+= body() }
  let elapsed = ContinuousClock.now - started
  let nanoseconds = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
  return (nanoseconds / Double(iterations), sink)
}

for shape in SampleBodies.Shape.allCases {
  for size in [1 << 10, 64 << 10] {
    for dirty in [false, true] {
      let name = "\(shape.rawValue) \(size >> 10) KiB \(dirty ? "dirty" : "clean")"
      guard only.map(name.contains) ?? true else { continue }
      let body = SampleBodies.toolCall(shape, bytes: size, dirty: dirty)
      let runs = size == 1 << 10 ? iterations * 32 : iterations
      body.withUnsafeBufferPointer { buffer in
        var matches: [DLPMatch] = []
        matches.reserveCapacity(64)
        let scan = timed(runs) {
          matches.removeAll(keepingCapacity: true)
          scanner.scan(buffer, into: &matches, limit: 64)
          return matches.count
        }
        let gbps = { (ns: Double) in Double(size) / ns }
        print(
          "\(name): DLP \(String(format: "%.2f", scan.nanoseconds / 1000)) µs (\(String(format: "%.2f", gbps(scan.nanoseconds))) GB/s, \(scan.sink / (runs + runs / 10)) matches)"
        )
      }
    }
  }
}
