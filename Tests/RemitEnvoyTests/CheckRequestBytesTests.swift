import EnvoyAPI
import Foundation
import RemitEngine
import SwiftProtobuf
import Testing

@testable import RemitEnvoy

/// `GovernedRequest(checkRequestBytes:)` against the reference: SwiftProtobuf's decoder followed
/// by `GovernedRequest(_:)`. Whatever SwiftProtobuf accepts must give the same facts; whatever the
/// hand-written reader rejects, SwiftProtobuf must reject too.
@Suite struct CheckRequestBytesTests {
  typealias CheckRequest = Envoy_Service_Auth_V3_CheckRequest

  enum Outcome: Equatable, CustomStringConvertible {
    case facts(Facts)
    case rejected

    var description: String {
      switch self {
      case .facts(let facts): "\(facts)"
      case .rejected: "rejected"
      }
    }
  }

  /// Everything the engine reads from a GovernedRequest.
  struct Facts: Equatable {
    var source, destination, service, sni: String
    var http: HTTP?
    struct HTTP: Equatable {
      var method, path, host, scheme: String
      var headers: [String: String]
      var body: [UInt8]
    }

    init(_ request: GovernedRequest) {
      source = request.sourcePrincipal
      destination = request.destinationPrincipal
      service = request.destinationService
      sni = request.tlsServerName
      http = request.http.map {
        HTTP(method: $0.method, path: $0.path, host: $0.host, scheme: $0.scheme, headers: $0.headers, body: $0.body)
      }
    }
  }

  static func reference(_ bytes: [UInt8]) -> Outcome {
    guard let message = try? CheckRequest(serializedBytes: bytes) else { return .rejected }
    return .facts(Facts(GovernedRequest(message)))
  }

  static func wire(_ bytes: [UInt8]) -> Outcome {
    do {
      let request = try bytes.withUnsafeBytes { buffer throws(CheckRequestDecodingError) in
        try GovernedRequest(checkRequestBytes: buffer)
      }
      return .facts(Facts(request))
    } catch {
      return .rejected
    }
  }

  static func serialized(_ message: CheckRequest) throws -> [UInt8] {
    try message.serializedBytes()
  }

  /// What Envoy 1.40 sends for an MCP call through an Istio sidecar, every field filled.
  static func envoyRequest() -> CheckRequest {
    var check = CheckRequest()
    check.attributes.source.principal = "spiffe://cluster.local/ns/agents/sa/bot"
    check.attributes.source.service = "bot.agents.svc.cluster.local"
    check.attributes.source.address.socketAddress.address = "10.0.0.7"
    check.attributes.source.address.socketAddress.portValue = 51234
    check.attributes.source.certificate = "-----BEGIN%20CERTIFICATE-----"
    check.attributes.source.labels = ["app": "bot", "version": "v1"]
    check.attributes.destination.principal = "spiffe://cluster.local/ns/tools/sa/inventory"
    check.attributes.destination.service = "inventory.tools.svc.cluster.local"
    check.attributes.destination.address.socketAddress.address = "10.0.0.9"
    check.attributes.destination.address.socketAddress.portValue = 8080
    check.attributes.request.time = Google_Protobuf_Timestamp(seconds: 1_765_000_000, nanos: 123)
    check.attributes.request.http.id = "8843221917625332153"
    check.attributes.request.http.method = "POST"
    check.attributes.request.http.path = "/mcp?session=1"
    check.attributes.request.http.host = "inventory.tools.svc.cluster.local"
    check.attributes.request.http.scheme = "http"
    check.attributes.request.http.query = "session=1"
    check.attributes.request.http.size = 1024
    check.attributes.request.http.protocol = "HTTP/2"
    check.attributes.request.http.headers = [
      ":authority": "inventory.tools.svc.cluster.local", ":method": "POST", ":path": "/mcp?session=1",
      "content-type": "application/json", "accept": "application/json, text/event-stream",
      "x-request-id": "6b0f5a52-0c64-4b5e-9f43-0d2b9c1c7b11", "mcp-session-id": "s-1",
    ]
    check.attributes.request.http.rawBody = Data(
      #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_stock","arguments":{"sku":"A-1"}}}"#.utf8)
    check.attributes.contextExtensions = ["route": "mcp"]
    check.attributes.tlsSession.sni = "outbound_.8080_._.inventory.tools.svc.cluster.local"
    return check
  }

  @Test func envoysRequestGivesTheSameFacts() throws {
    let bytes = try Self.serialized(Self.envoyRequest())
    let outcome = Self.wire(bytes)
    #expect(outcome == Self.reference(bytes))
    guard case .facts(let facts) = outcome else { Issue.record("rejected"); return }
    #expect(facts.http?.headers["mcp-session-id"] == "s-1")
    #expect(facts.http?.body.count == 102)
  }

  @Test func headerMapBodyAndNetworkChecks() throws {
    var check = Self.envoyRequest()
    check.attributes.request.http.headers = [:]
    for (key, value) in [("Content-Type", "application/json"), ("X-Dup", "a"), ("x-dup", "b")] {
      var header = Envoy_Config_Core_V3_HeaderValue()
      header.key = key
      header.value = value
      check.attributes.request.http.headerMap.headers.append(header)
    }
    var raw = Envoy_Config_Core_V3_HeaderValue()
    raw.key = "x-raw"
    raw.value = "ignored"
    raw.rawValue = Data([0x61, 0xFF, 0x62])  // raw_value is bytes: not UTF-8 checked, repaired
    check.attributes.request.http.headerMap.headers.append(raw)
    check.attributes.request.http.rawBody = Data()
    check.attributes.request.http.body = #"{"text":"héllo"}"#
    let bytes = try Self.serialized(check)
    #expect(Self.wire(bytes) == Self.reference(bytes))
    guard case .facts(let facts) = Self.wire(bytes) else { Issue.record("rejected"); return }
    #expect(facts.http?.headers["x-dup"] == "a,b")
    #expect(facts.http?.headers["x-raw"] == "a\u{FFFD}b")

    // A TCP check has no http at all; an empty http message still is an HTTP check.
    var network = CheckRequest()
    network.attributes.tlsSession.sni = "api.stripe.com"
    network.attributes.destination.service = "api.stripe.com"
    let networkBytes = try Self.serialized(network)
    #expect(Self.wire(networkBytes) == Self.reference(networkBytes))
    guard case .facts(let tcp) = Self.wire(networkBytes) else { Issue.record("rejected"); return }
    #expect(tcp.http == nil)
    let emptyHTTP: [UInt8] = [0x0A, 0x04, 0x22, 0x02, 0x12, 0x00]  // attributes { request { http {} } }
    #expect(Self.wire(emptyHTTP) == Self.reference(emptyHTTP))
    guard case .facts(let empty) = Self.wire(emptyHTTP) else { Issue.record("rejected"); return }
    #expect(empty.http != nil)
    #expect(Self.wire([]) == Self.reference([]))
  }

  /// Protobuf merges concatenated messages: later scalars win, maps and repeated fields add up,
  /// singular messages merge field by field.
  @Test func concatenatedMessagesMergeAsTheRuntimeMerges() throws {
    var first = Self.envoyRequest()
    first.attributes.request.http.headers["x-only-first"] = "1"
    var second = CheckRequest()
    second.attributes.source.principal = "spiffe://cluster.local/ns/agents/sa/other"
    second.attributes.request.http.path = "/other"
    second.attributes.request.http.headers = ["content-type": "text/plain", "x-second": "2"]
    second.attributes.request.http.rawBody = Data("second".utf8)
    let bytes = try Self.serialized(first) + Self.serialized(second) + Self.serialized(first)
    #expect(Self.wire(bytes) == Self.reference(bytes))
    let twice = try Self.serialized(first) + Self.serialized(second)
    #expect(Self.wire(twice) == Self.reference(twice))
    guard case .facts(let facts) = Self.wire(twice) else { Issue.record("rejected"); return }
    #expect(facts.source == "spiffe://cluster.local/ns/agents/sa/other")
    #expect(facts.destination == "spiffe://cluster.local/ns/tools/sa/inventory")
    #expect(facts.http?.headers["x-only-first"] == "1")
    #expect(facts.http?.headers["content-type"] == "text/plain")
    #expect(facts.http?.body == Array("second".utf8))
  }

  /// Hand-made encodings no well-behaved encoder writes, each compared with the runtime.
  @Test(
    arguments: [
      (
        "unknown fields of every wire type",
        [0x08, 0x01, 0x11] + [UInt8](repeating: 0, count: 8) + [0x1A, 0x01, 0x00, 0x25, 0, 0, 0, 0]
      ),
      ("an unknown group", [0x0A, 0x06, 0x9B, 0x06, 0x08, 0x01, 0x9C, 0x06]),
      ("nested unknown groups", [0x1B, 0x23, 0x08, 0x01, 0x24, 0x1C]),
      ("a group closed by another field", [0x1B, 0x24]),
      ("an unclosed group", [0x1B, 0x08, 0x01]),
      ("an end-group outside a group", [0x0C]),
      ("field number zero", [0x02, 0x00]),
      ("wire type 6", [0x0E]),
      ("wire type 7", [0x0F, 0x00]),
      ("a five-byte tag", [0x8A, 0x80, 0x80, 0x80, 0x00, 0x00]),
      ("a five-byte tag over 32 bits", [0x8A, 0x80, 0x80, 0x80, 0x10, 0x00]),
      ("a six-byte tag", [0x8A, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00]),
      ("a truncated tag", [0x8A]),
      ("attributes as a varint", [0x08, 0x05]),
      ("attributes as a group", [0x0B, 0x0C]),
      ("a length past the end", [0x0A, 0x05, 0x12, 0x00]),
      ("a varint of ten bytes", [0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
      ("a varint of eleven bytes", [0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
      ("a truncated varint", [0x10, 0xFF]),
      ("a truncated fixed64", [0x11, 0x00, 0x00]),
      ("a truncated fixed32", [0x15, 0x00]),
      ("invalid UTF-8 in a principal", [0x0A, 0x06, 0x0A, 0x04, 0x22, 0x02, 0xC3, 0x28]),
      ("a surrogate in a principal", [0x0A, 0x07, 0x0A, 0x05, 0x22, 0x03, 0xED, 0xA0, 0x80]),
      ("an overlong slash in a principal", [0x0A, 0x06, 0x0A, 0x04, 0x22, 0x02, 0xC0, 0xAF]),
      ("invalid UTF-8 in the request id", [0x0A, 0x07, 0x22, 0x05, 0x12, 0x03, 0x0A, 0x01, 0xFF]),
      ("invalid UTF-8 in the body string", [0x0A, 0x07, 0x22, 0x05, 0x12, 0x03, 0x5A, 0x01, 0xFF]),
      ("invalid UTF-8 in raw_body", [0x0A, 0x07, 0x22, 0x05, 0x12, 0x03, 0x62, 0x01, 0xFF]),
      ("invalid UTF-8 in a label", [0x0A, 0x08, 0x0A, 0x06, 0x1A, 0x04, 0x0A, 0x02, 0x61, 0xFF]),
      ("a header entry with a varint key", [0x0A, 0x08, 0x22, 0x06, 0x12, 0x04, 0x1A, 0x02, 0x08, 0x01]),
      ("a header entry with an end-group", [0x0A, 0x08, 0x22, 0x06, 0x12, 0x04, 0x1A, 0x02, 0x0C, 0x00]),
      ("a header entry with only a value", [0x0A, 0x09, 0x22, 0x07, 0x12, 0x05, 0x1A, 0x03, 0x12, 0x01, 0x76]),
      (
        "a header entry with unknown fields",
        [0x0A, 0x0B, 0x22, 0x09, 0x12, 0x07, 0x1A, 0x05, 0x0A, 0x01, 0x6B, 0x18, 0x01]
      ),
      ("a path sent as fixed32", [0x0A, 0x09, 0x22, 0x07, 0x12, 0x05, 0x25, 0x2F, 0x61, 0x62, 0x63]),
      ("size sent length-delimited", [0x0A, 0x07, 0x22, 0x05, 0x12, 0x03, 0x4A, 0x01, 0x00]),
    ] as [(String, [UInt8])])
  func oddEncodingsMatchTheRuntime(_ name: String, _ bytes: [UInt8]) {
    #expect(Self.wire(bytes) == Self.reference(bytes), "\(name)")
  }

  /// SwiftProtobuf allows 100 nested messages and groups; so does the reader.
  @Test func groupNestingStopsWhereTheRuntimeStops() {
    func nestedGroups(_ count: Int) -> [UInt8] {
      // attributes { request { http { <count groups of field 20> } } }: 4 messages deep already.
      var groups: [UInt8] = []
      for _ in 0..<count { groups += [0xA3, 0x01] }
      for _ in 0..<count { groups += [0xA4, 0x01] }
      let http: [UInt8] = [0x12] + Self.varint(groups.count) + groups
      let request: [UInt8] = [0x22] + Self.varint(http.count) + http
      return [0x0A] + Self.varint(request.count) + request
    }
    var agreed = Set<Bool>()
    for count in [94, 95, 96, 97, 98, 200] {
      let bytes = nestedGroups(count)
      let reference = Self.reference(bytes)
      #expect(Self.wire(bytes) == reference, "\(count) groups")
      agreed.insert(reference == .rejected)
    }
    #expect(agreed == [true, false], "the limit lies inside the range tried")
  }

  /// Fields Remit never reads (`Peer.address`, `Request.time`) are skipped without looking inside:
  /// a malformed address the runtime would refuse changes no fact Remit decides on.
  @Test func messagesRemitNeverReadsAreNotParsed() {
    // attributes { source { address: <garbage>; principal: "a" } }
    let bytes: [UInt8] = [0x0A, 0x09, 0x0A, 0x07, 0x0A, 0x02, 0xFF, 0xFF, 0x22, 0x01, 0x61]
    #expect(Self.reference(bytes) == .rejected)
    guard case .facts(let facts) = Self.wire(bytes) else { Issue.record("rejected"); return }
    #expect(facts.source == "a")
  }

  /// Random requests, concatenations and byte mutations of them. Whatever the runtime accepts
  /// must give the same facts; whatever the reader rejects, the runtime must reject.
  @Test func randomAndMutatedRequestsAgreeWithTheRuntime() throws {
    var random = SplitMix64(seed: 0x5EED)
    var accepted = 0
    var rejected = 0
    for round in 0..<3_000 {
      var bytes = try Self.serialized(Self.randomRequest(&random))
      if round % 7 == 0 { bytes += try Self.serialized(Self.randomRequest(&random)) }
      // The unmutated message has only well-formed parts: both must agree exactly.
      #expect(Self.wire(bytes) == Self.reference(bytes))
      for _ in 0..<4 {
        var mutated = bytes
        Self.mutate(&mutated, &random)
        let reference = Self.reference(mutated)
        let wire = Self.wire(mutated)
        if reference != .rejected {
          accepted += 1
          #expect(wire == reference, "mutation of round \(round): \(mutated)")
        } else {
          rejected += 1
          // The reader may accept what only a part Remit never reads breaks (address, time).
          if case .facts = wire { continue }
        }
      }
    }
    // Both sides of the property were exercised.
    #expect(accepted > 1_000)
    #expect(rejected > 1_000)
  }

  @Test func utf8ValidationAgreesWithTheStandardLibrary() {
    var random = SplitMix64(seed: 0xC0FFEE)
    let interesting: [UInt8] = [
      0x00, 0x41, 0x7F, 0x80, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF,
      0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF, 0x9F, 0xA0, 0x8F, 0x90,
    ]
    for length in 0..<12 {
      for _ in 0..<4_000 {
        let bytes = (0..<length).map { _ in
          random.next() % 3 == 0
            ? UInt8(truncatingIfNeeded: random.next()) : interesting[Int(random.next() % UInt64(interesting.count))]
        }
        let mine = bytes.withUnsafeBytes { UTF8Validation.isValid($0) }
        #expect(mine == (String(validating: bytes, as: UTF8.self) != nil), "\(bytes)")
      }
    }
    // The eight-byte ASCII stride next to a multi-byte character, at every offset.
    for offset in 0..<16 {
      var bytes = [UInt8](repeating: 0x61, count: 24)
      bytes.replaceSubrange(offset..<(offset + 3), with: [0xE2, 0x82, 0xAC])
      #expect(bytes.withUnsafeBytes { UTF8Validation.isValid($0) })
      bytes[offset + 2] = 0x41
      #expect(!bytes.withUnsafeBytes { UTF8Validation.isValid($0) })
    }
  }

  // MARK: - Generators

  static func varint(_ value: Int) -> [UInt8] {
    var value = UInt64(value)
    var bytes: [UInt8] = []
    while value >= 0x80 {
      bytes.append(UInt8(value & 0x7F) | 0x80)
      value >>= 7
    }
    return bytes + [UInt8(value)]
  }

  static let words = [
    "", "a", "POST", "GET", "/mcp", "/api/v1/items/1?x=%2F", "content-type", "Content-Type", "x-dup",
    "application/json", "é", "e\u{301}", "ﬁ", "𝔘", "spiffe://cluster.local/ns/agents/sa/bot",
    "inventory.tools.svc.cluster.local", "a,b", " padded ", "\u{0}", String(repeating: "long", count: 40),
  ]

  static func word(_ random: inout SplitMix64) -> String {
    words[Int(random.next() % UInt64(words.count))]
  }

  static func randomRequest(_ random: inout SplitMix64) -> CheckRequest {
    var check = CheckRequest()
    func maybe(_ body: () -> Void) { if random.next() % 2 == 0 { body() } }
    maybe { check.attributes.source.principal = word(&random) }
    maybe { check.attributes.source.service = word(&random) }
    maybe { check.attributes.source.address.socketAddress.address = word(&random) }
    maybe { check.attributes.source.labels[word(&random)] = word(&random) }
    maybe { check.attributes.destination.principal = word(&random) }
    maybe { check.attributes.destination.service = word(&random) }
    maybe { check.attributes.tlsSession.sni = word(&random) }
    maybe { check.attributes.contextExtensions[word(&random)] = word(&random) }
    maybe {
      check.attributes.request.time = Google_Protobuf_Timestamp(seconds: Int64(random.next() % 1_000_000), nanos: 0)
    }
    maybe {
      maybe { check.attributes.request.http.method = word(&random) }
      maybe { check.attributes.request.http.path = word(&random) }
      maybe { check.attributes.request.http.host = word(&random) }
      maybe { check.attributes.request.http.scheme = word(&random) }
      maybe { check.attributes.request.http.id = word(&random) }
      maybe { check.attributes.request.http.size = Int64(bitPattern: random.next()) }
      for _ in 0..<(random.next() % 4) { check.attributes.request.http.headers[word(&random)] = word(&random) }
      maybe {
        for _ in 0..<(random.next() % 4) {
          var header = Envoy_Config_Core_V3_HeaderValue()
          header.key = word(&random)
          maybe { header.value = word(&random) }
          maybe { header.rawValue = Data(word(&random).utf8) }
          check.attributes.request.http.headerMap.headers.append(header)
        }
      }
      maybe { check.attributes.request.http.body = word(&random) }
      maybe { check.attributes.request.http.rawBody = Data(word(&random).utf8) }
      if check.attributes.request.http == .init() { check.attributes.request.http = .init() }
    }
    return check
  }

  static func mutate(_ bytes: inout [UInt8], _ random: inout SplitMix64) {
    guard !bytes.isEmpty else {
      bytes = [UInt8(truncatingIfNeeded: random.next())]
      return
    }
    let index = Int(random.next() % UInt64(bytes.count))
    switch random.next() % 6 {
    case 0: bytes[index] ^= UInt8(1 << (random.next() % 8))
    case 1: bytes[index] = UInt8(truncatingIfNeeded: random.next())
    case 2: bytes.removeSubrange(index...)
    case 3: bytes.insert(UInt8(truncatingIfNeeded: random.next()), at: index)
    case 4: bytes.remove(at: index)
    default: bytes[index] = [0x80, 0xFF, 0x00, 0x0C, 0xC3, 0x7F][Int(random.next() % 6)]
    }
  }
}

/// A seeded generator, so a failure reproduces.
struct SplitMix64: RandomNumberGenerator {
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
