import Benchmark
import RemitEngine

/// DLP throughput (SPEC section 13: at least 1 GB/s per core on 64 KiB bodies) on realistic JSON
/// tool-call bodies, clean and with a few secrets, with every built-in detector on; and the
/// injection heuristics on the same text. Throughput = bytes per scan / time per scan.
let benchmarks: @Sendable () -> Void = {
  Benchmark.defaultConfiguration = .init(
    metrics: [.wallClock, .throughput, .mallocCountTotal],
    timeUnits: .nanoseconds,
    warmupIterations: 10,
    scalingFactor: .one,
    maxDuration: .seconds(2),
    maxIterations: 100_000
  )

  let scanner = DLPScanner(builtins: Set(DLPDetector.allCases), custom: [])
  let injection = InjectionDetector()

  for size in [1 << 10, 16 << 10, 64 << 10] {
    for dirty in [false, true] {
      let body = SampleBodies.toolCall(bytes: size, dirty: dirty)
      let label = "\(size >> 10) KiB \(dirty ? "dirty" : "clean")"
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

/// Deterministic JSON-RPC tool-call bodies: words, ids, numbers, dates and nested objects, the
/// kind of text agents send. Dirty bodies carry a card number, an AWS key id and an e-mail address
/// every 4 KiB.
enum SampleBodies {
  static let words = [
    "inventory", "reserve", "customer", "shipping", "the", "order", "item", "warehouse", "quantity", "status",
    "pending", "delivered", "Berlin", "Lisbon", "notes", "please", "call", "back", "tomorrow", "priority",
  ]

  static func toolCall(bytes: Int, dirty: Bool) -> [UInt8] {
    var generator = SplitMix64(seed: 42)
    var items: [String] = []
    var text = #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"reserve_items","arguments":{"items":["#
    var index = 0
    while text.utf8.count < bytes - 200 {
      var note = (0..<12).map { _ in words[Int(generator.next() % UInt64(words.count))] }.joined(separator: " ")
      if dirty && index % 24 == 23 {
        note += " card 4111 1111 1111 1111 key AKIAQYLPMN5HHHFPZAM2 mail jane.doe@example.com"
      }
      let sku = "SKU-\(generator.next() % 100_000)"
      let item =
        #"{"sku":"\#(sku)","qty":\#(generator.next() % 50),"warehouse":"wh-\#(generator.next() % 9)","#
        + #""eta":"2026-11-\#(10 + generator.next() % 18)T10:00:00Z","price":\#(generator.next() % 9999).99,"note":"\#(note)"}"#
      items.append(item)
      text += (index == 0 ? "" : ",") + item
      index += 1
    }
    text += "]}}}"
    var body = Array(text.utf8)
    // Pad with spaces inside the final object to the exact size.
    if body.count < bytes { body.insert(contentsOf: [UInt8](repeating: 0x20, count: bytes - body.count), at: body.count - 3) }
    return body
  }
}

struct SplitMix64 {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
