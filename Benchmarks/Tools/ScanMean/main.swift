import BenchmarkFixtures
import RemitEngine

#if canImport(Glibc)
  import Glibc
#endif

// DLP scan throughput without the harness: `ScanMean [ITERATIONS] [NAME-SUBSTRING]`. Each case
// scans one body ITERATIONS times as one timed block. The byte-sum floor is in the harness
// (`swift package benchmark --target ContentScan`); this tool is for comparing two builds.
let scanner = DLPScanner(builtins: Set(DLPDetector.allCases), custom: [])
let arguments = CommandLine.arguments.dropFirst()

// `ScanMean injection ITERATIONS [TEXT]`: the injection heuristics over TEXT, or over every
// string of the 1 KiB `ids` body as the engine walks them; for instruction counts (callgrind).
if arguments.first == "injection" {
  let detector = InjectionDetector()
  let iterations = arguments.dropFirst().first.flatMap { Int($0) } ?? 100_000
  var texts: [[UInt8]]
  if let text = arguments.dropFirst(2).first {
    texts = [Array(text.utf8)]
  } else {
    let body = SampleBodies.toolCall(.ids, bytes: 1 << 10, dirty: false)
    guard let tape = try? JSONTape(parsing: body) else { fatalError("the sample body must parse") }
    texts = tape.nodes.indices.filter { tape[$0].kind == .string }.map { Array(tape.string($0).utf8) }
  }
  var signals = 0
  for _ in 0..<iterations {
    for text in texts { signals &+= detector.inspect(text) == nil ? 0 : 1 }
  }
  print("\(texts.count) strings, \(signals) signals")
  exit(0)
}
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
