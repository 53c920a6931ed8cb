import RemitEngine

#if canImport(Glibc)
  import Glibc
#endif

public enum SampleIndicators {
  public static func make(count: Int) -> [PolicyDocument.Indicator] {
    var indicators: [PolicyDocument.Indicator] = [.init(type: .tool, value: "exfiltrate_*")]
    var n = 0
    while indicators.count < count {
      switch n % 7 {
      case 0: indicators.append(.init(type: .tool, value: "tool_\(n)"))
      case 1: indicators.append(.init(type: .tool, value: "prefix\(n)_*"))
      case 2: indicators.append(.init(type: .domain, value: "bad-\(n).example"))
      case 3: indicators.append(.init(type: .ip, value: "203.0.\(n % 256 == 0 ? 113 : 113).\(n % 250 + 1)"))
      case 4: indicators.append(.init(type: .cidr, value: "198.51.\(n % 200).0/24"))
      case 5: indicators.append(.init(type: .url, value: "https://files-\(n).example/payload"))
      default:
        var generator = SplitMix64(seed: UInt64(n))
        let hex = (0..<4).map { _ in String(generator.next(), radix: 16).leftPadded(to: 16) }.joined()
        indicators.append(.init(type: .hash, value: hex))
      }
      n += 1
    }
    // The ones the lookups hit.
    indicators.append(.init(type: .domain, value: "bad-4711.example"))
    return indicators
  }
}

extension String {
  fileprivate func leftPadded(to length: Int) -> String { String(repeating: "0", count: max(0, length - count)) + self }
}

/// Deterministic JSON-RPC tool-call bodies: words, ids, numbers, dates and nested objects, the
/// kind of text agents send. Dirty bodies carry a card number, an AWS key id and an e-mail address
/// every 4 KiB.
public enum SampleBodies {
  static let words = [
    "inventory", "reserve", "customer", "shipping", "the", "order", "item", "warehouse", "quantity", "status",
    "pending", "delivered", "Berlin", "Lisbon", "notes", "please", "call", "back", "tomorrow", "priority",
  ]

  /// `ids`: items with SKUs, quantities, warehouse ids, timestamps and prices (a digit or key
  /// start every ~23 bytes). `prose`: messages and notes, as an e-mail or chat tool sends.
  public enum Shape: String, CaseIterable, Sendable {
    case ids
    case prose
  }

  static let sentences = [
    "Hi team, the quarterly report is attached and the numbers for the northern region look good.",
    "Please review the draft before the meeting on Thursday and send your comments to the group.",
    "The new dashboard shows revenue up a little while costs stayed flat across every store.",
    "Thanks for the quick turnaround on the inventory reconciliation, it saved us a lot of time.",
    "Let me know if anything looks off and we will fix it before the customers see the update.",
  ]

  public static func toolCall(_ shape: Shape, bytes: Int, dirty: Bool) -> [UInt8] {
    shape == .ids ? toolCall(bytes: bytes, dirty: dirty) : message(bytes: bytes, dirty: dirty)
  }

  static func message(bytes: Int, dirty: Bool) -> [UInt8] {
    var generator = SplitMix64(seed: 7)
    var text =
      #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"send_message","arguments":{"to":"team","body":""#
    var index = 0
    while text.utf8.count < bytes - 120 {
      text += sentences[Int(generator.next() % UInt64(sentences.count))] + " "
      if dirty && index % 40 == 39 {
        text += "card 4111 1111 1111 1111 key AKIAQYLPMN5HHHFPZAM2 mail jane.doe@example.com "
      }
      index += 1
    }
    text += #""}}}"#
    var body = Array(text.utf8)
    if body.count < bytes {
      body.insert(contentsOf: [UInt8](repeating: 0x20, count: bytes - body.count), at: body.count - 3)
    }
    return body
  }

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
    if body.count < bytes {
      body.insert(contentsOf: [UInt8](repeating: 0x20, count: bytes - body.count), at: body.count - 3)
    }
    return body
  }
}

public struct SplitMix64 {
  var state: UInt64
  public init(seed: UInt64) { state = seed }
  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// `REMIT_BENCH_SMOKE=1`: a few iterations per benchmark, so CI checks that every benchmark
/// still builds and runs (and that each deny benchmark still denies with its reason) without
/// spending minutes; the figures of such a run mean nothing.
public enum BenchmarkSmoke {
  public static let enabled: Bool = {
    guard let value = getenv("REMIT_BENCH_SMOKE") else { return false }
    return String(cString: value) == "1"
  }()
}
