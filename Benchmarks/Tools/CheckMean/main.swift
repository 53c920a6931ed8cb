import BenchmarkFixtures
import EnvoyAPI
import Foundation
import RemitEngine
import RemitEnvoy
import SwiftProtobuf

// The in-process Check path by part, without the benchmark harness: N iterations timed as one
// block. `CheckMean [ITERATIONS] [CASE-SUBSTRING]`; cases: decode-message (SwiftProtobuf's
// generated CheckRequest), decode-bytes (GovernedRequest(checkRequestBytes:), what the server
// does), engine, encode, check-message and check-bytes (decode + engine + encode each way), noop
// (generated decode, answer OK, encode).
let document = SamplePolicy.document(agents: 1_000, indicators: 10_000)
guard let snapshot = try? PolicySnapshot(document) else { fatalError("the sample policy must validate") }
let engine = DecisionEngine()
let body = SampleBodies.toolCall(.ids, bytes: 1 << 10, dirty: false)
var check = Envoy_Service_Auth_V3_CheckRequest()
check.attributes.source.principal = SamplePolicy.agentPrincipal(500)
check.attributes.destination.principal = SamplePolicy.inventory
check.attributes.request.http.method = "POST"
check.attributes.request.http.path = "/mcp"
check.attributes.request.http.host = "inventory.tools.svc.cluster.local"
check.attributes.request.http.headers = SamplePolicy.request(body: body).http?.headers ?? [:]
check.attributes.request.http.rawBody = Data(body)
guard let wire: [UInt8] = try? check.serializedBytes() else { fatalError("encode") }
guard let decoded = try? Envoy_Service_Auth_V3_CheckRequest(serializedBytes: wire) else { fatalError("decode") }
let governed = GovernedRequest(decoded)
let decision = engine.decide(governed, snapshot: snapshot)
guard decision.verdict == .allow else {
  fatalError("the sample Check must be allowed: \(decision.reason?.rawValue ?? "")")
}
let decisionID = "6f1d2c3b4a5e4f608a7b9c0d1e2f3a4b"

let cases: [(String, () -> Int)] = [
  (
    "decode-message",
    { (try? Envoy_Service_Auth_V3_CheckRequest(serializedBytes: wire))?.attributes.request.http.rawBody.count ?? 0 }
  ),
  ("decode-bytes", { wire.withUnsafeBytes { (try? GovernedRequest(checkRequestBytes: $0))?.http?.body.count ?? 0 } }),
  ("engine", { engine.decide(governed, snapshot: snapshot).verdict == .allow ? 1 : 0 }),
  ("encode", { ((try? decision.checkResponse(decisionID: decisionID).serializedBytes()) as [UInt8]?)?.count ?? 0 }),
  (
    "check-bytes",
    {
      guard let request = wire.withUnsafeBytes({ try? GovernedRequest(checkRequestBytes: $0) }) else { return 0 }
      let decision = engine.decide(request, snapshot: snapshot)
      let response: [UInt8]? = try? decision.checkResponse(decisionID: decisionID).serializedBytes()
      return response?.count ?? 0
    }
  ),
  (
    "check-message",
    {
      guard let request = try? Envoy_Service_Auth_V3_CheckRequest(serializedBytes: wire) else { return 0 }
      let decision = engine.decide(GovernedRequest(request), snapshot: snapshot)
      let response: [UInt8]? = try? decision.checkResponse(decisionID: decisionID).serializedBytes()
      return response?.count ?? 0
    }
  ),
  (
    "noop",
    {
      guard let request = try? Envoy_Service_Auth_V3_CheckRequest(serializedBytes: wire) else { return 0 }
      var response = Envoy_Service_Auth_V3_CheckResponse()
      response.okResponse = Envoy_Service_Auth_V3_OkHttpResponse()
      let bytes: [UInt8]? = try? response.serializedBytes()
      return (bytes?.count ?? 0) &+ request.attributes.source.principal.utf8.count
    }
  ),
]
let arguments = CommandLine.arguments.dropFirst()
let iterations = arguments.first.flatMap { Int($0) } ?? 100_000
let only = arguments.dropFirst().first
for (name, body) in cases where only.map(name.contains) ?? true {
  var sink = 0
  for _ in 0..<1_000 { sink &+= body() }
  let started = ContinuousClock.now
  for _ in 0..<iterations { sink &+= body() }
  let elapsed = ContinuousClock.now - started
  let nanoseconds = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
  print("\(name): mean \(String(format: "%.2f", nanoseconds / Double(iterations) / 1000)) µs (\(sink))")
}
