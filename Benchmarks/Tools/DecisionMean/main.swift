import BenchmarkFixtures
import RemitEngine

// The engine decision's mean without the benchmark harness (whose malloc interposer, needed for
// allocation counts, adds a cost to every allocation): N decisions timed as one block.
let document = SamplePolicy.document(agents: 1_000, indicators: 10_000)
guard let snapshot = try? PolicySnapshot(document) else { fatalError("the sample policy must validate") }
let engine = DecisionEngine()
let cases: [(String, GovernedRequest)] = [
  ("allow tools/call 1 KiB ids", SamplePolicy.request(body: SampleBodies.toolCall(.ids, bytes: 1 << 10, dirty: false))),
  (
    "allow tools/call 1 KiB prose",
    SamplePolicy.request(body: SampleBodies.toolCall(.prose, bytes: 1 << 10, dirty: false))
  ),
  (
    "deny identity_unmapped",
    SamplePolicy.request(
      agent: SamplePolicy.agentPrincipal(5_000), body: SampleBodies.toolCall(.ids, bytes: 1 << 10, dirty: false))
  ),
]
// `DecisionMean [ITERATIONS] [NAME-SUBSTRING]`: one case alone is what a profiler wants.
let arguments = CommandLine.arguments.dropFirst()
let iterations = arguments.first.flatMap { Int($0) } ?? 100_000
let only = arguments.dropFirst().first
for (name, request) in cases where only.map(name.contains) ?? true {
  var verdicts = 0
  for _ in 0..<1_000 { verdicts &+= engine.decide(request, snapshot: snapshot).verdict == .allow ? 1 : 0 }
  let started = ContinuousClock.now
  for _ in 0..<iterations { verdicts &+= engine.decide(request, snapshot: snapshot).verdict == .allow ? 1 : 0 }
  let elapsed = ContinuousClock.now - started
  let nanoseconds = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
  print("\(name): mean \(String(format: "%.2f", nanoseconds / Double(iterations) / 1000)) µs (\(verdicts))")
}
