import Foundation
import RemitEngine
import Testing

/// Every committed input of the libFuzzer targets (`Fuzz/Corpus/<target>/`, seeds and the crash
/// inputs turned into seeds) through the parser its target fuzzes, with the target's cheaper
/// checks, so each of them is a regression test of the ordinary `swift test` run. The
/// CheckRequest corpus is replayed in RemitEnvoyTests (`CheckRequestCorpusTests`).
@Suite struct FuzzCorpusTests {
  static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fuzz/Corpus")

  /// The inputs of one target's corpus, by file name; a missing or empty corpus is a failure.
  static func inputs(_ target: String) throws -> [(name: String, bytes: [UInt8])] {
    let directory = corpus.appendingPathComponent(target)
    let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    #expect(!names.isEmpty, "no inputs in \(directory.path)")
    return try names.map { (name: $0, bytes: Array(try Data(contentsOf: directory.appendingPathComponent($0)))) }
  }

  @Test func everyTargetHasACorpusReplayed() throws {
    let targets = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path).sorted()
    #expect(
      targets == [
        "BodyDecoder", "CheckRequest", "DLPScan", "JSONBody", "PolicyDocument", "RequestPath", "WorkloadIdentity",
      ], "a new fuzz corpus needs its replay here")
  }

  /// JSONTape and the JSON-RPC reader: decoded strings no longer than their escaped form; what the
  /// tape accepts Foundation accepts, with the same strings and the same JSON-RPC method, tool name
  /// and id.
  @Test func jsonBodyCorpus() throws {
    var accepted = 0
    for (name, bytes) in try Self.inputs("JSONBody") {
      guard let tape = try? JSONTape(parsing: bytes) else { continue }
      accepted += 1
      var strings: [[UInt8]] = []
      for index in tape.nodes.indices where tape[index].kind == .string {
        let text = tape.string(index)
        #expect(text.utf8.count <= Int(tape[index].end - tape[index].start), "\(name)")
        strings.append(Array(text.utf8))
      }
      _ = tape.location(of: tape.nodes.count - 1)
      let numbersFit = tape.nodes.indices.allSatisfy {
        tape[$0].kind != .number || (Double(tape.rawText($0))?.isFinite ?? false)
      }
      guard numbersFit else { continue }
      let reference = try #require(
        try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]),
        "\(name): the tape accepts it, Foundation does not")
      #expect(Self.strings(in: reference).sorted(by: Self.byBytes) == strings.sorted(by: Self.byBytes), "\(name)")
      guard JSONRPCPayload.looksLikeJSONRPC(tape), let payload = try? JSONRPCPayload(tape: tape) else { continue }
      let objects = payload.isBatch ? (reference as? [Any] ?? []) : [reference]
      #expect(objects.count == payload.messages.count, "\(name)")
      for (message, object) in zip(payload.messages, objects) {
        let members = try #require(object as? [String: Any], "\(name)")
        #expect(message.method == members["method"] as? String, "\(name)")
        if message.kind != .response {
          let tool = (members["params"] as? [String: Any])?["name"] as? String
          #expect(payload.paramString(message, "name") == tool, "\(name)")
        }
        if let raw = message.idJSON {
          let alone = try JSONSerialization.jsonObject(with: Data(raw.utf8), options: [.fragmentsAllowed])
          #expect(String(describing: alone) == String(describing: members["id"] ?? "absent"), "\(name)")
        } else {
          #expect(members["id"] == nil, "\(name)")
        }
      }
    }
    #expect(accepted > 0, "no input of the JSON corpus parses: the replay checks nothing")
  }

  /// Every key and string value of a Foundation JSON value, as bytes.
  static func strings(in value: Any) -> [[UInt8]] {
    if let text = value as? String { return [Array(text.utf8)] }
    if let array = value as? [Any] { return array.flatMap { strings(in: $0) } }
    if let object = value as? [String: Any] { return object.flatMap { [Array($0.key.utf8)] + strings(in: $0.value) } }
    return []
  }

  static func byBytes(_ left: [UInt8], _ right: [UInt8]) -> Bool { left.lexicographicallyPrecedes(right) }

  /// An accepted identity prints back as the input.
  @Test func workloadIdentityCorpus() throws {
    var accepted = 0
    for (name, bytes) in try Self.inputs("WorkloadIdentity") {
      let text = String(decoding: bytes, as: UTF8.self)
      guard let identity = try? WorkloadIdentity.parse(text).get() else { continue }
      accepted += 1
      #expect(identity.spiffeID == text, "\(name)")
    }
    #expect(accepted > 0)
  }

  /// A hygienic path reads back as itself and is never longer than the input.
  @Test func requestPathCorpus() throws {
    var accepted = 0
    for (name, bytes) in try Self.inputs("RequestPath") {
      let text = String(decoding: bytes, as: UTF8.self)
      guard let hygienic = try? RequestPath.hygienic(text).get() else { continue }
      accepted += 1
      #expect((try? RequestPath.hygienic(hygienic).get()) == hygienic, "\(name)")
      #expect(hygienic.utf8.count <= text.utf8.count, "\(name)")
    }
    #expect(accepted > 0)
  }

  /// As the fuzz target reads its input: the first byte picks the mode. Even: the rest decoded as
  /// gzip and deflate stays inside the limits. Odd: zlib's own encoding of the rest decodes back.
  @Test func bodyDecoderCorpus() throws {
    let limits = BodyDecoder.Limits(maximumDecodedBytes: 1 << 20, maximumRatio: 1000, maximumMembers: 4)
    let decoder = BodyDecoder(limits: limits)
    for (name, bytes) in try Self.inputs("BodyDecoder") {
      guard let mode = bytes.first else { continue }
      let rest = Array(bytes.dropFirst())
      if mode & 1 == 0 {
        for encoding in [BodyDecoder.Encoding.gzip, .deflate] {
          for acceptTruncated in [false, true] {
            if case .success(let decoded) = decoder.decode(rest, encoding: encoding, acceptTruncated: acceptTruncated) {
              #expect(decoded.count <= limits.maximumDecodedBytes, "\(name)")
              #expect(decoded.count <= max(rest.count, 1) * limits.maximumRatio, "\(name)")
            }
          }
        }
        continue
      }
      let windowBits: Int32 = [15 + 16, 15, -15][Int(mode >> 1) % 3]
      var encoded = Compression.compress(rest, windowBits: windowBits)
      var expected = rest
      if windowBits == 15 + 16, mode & 0x80 != 0 {
        encoded += Compression.compress(rest.reversed(), windowBits: windowBits)
        expected += rest.reversed()
      }
      let encoding: BodyDecoder.Encoding = windowBits == 15 + 16 ? .gzip : .deflate
      let decoded = try decoder.decode(encoded, encoding: encoding, acceptTruncated: false).get()
      #expect(decoded == expected, "\(name)")
      let cut = Int(mode >> 3) % max(encoded.count, 1)
      if case .success(let partial) = decoder.decode(Array(encoded[..<cut]), encoding: encoding, acceptTruncated: true)
      {
        #expect(partial.count <= expected.count && Array(expected[..<partial.count]) == partial, "\(name)")
      }
    }
  }

  /// Every built-in detector and the fuzz target's custom rule: findings inside the buffer, in
  /// offset order, at most the limit, the same twice, and a capped scan finds only what the full
  /// scan finds.
  @Test func dlpScanCorpus() throws {
    let custom = try DLPCustomRule(
      id: "project-code", keywords: ["PRJ-", "ticket"], pattern: "PRJ-[0-9]{6}", validator: nil)
    let scanner = DLPScanner(builtins: Set(DLPDetector.allCases), custom: [custom])
    var found = 0
    for (name, bytes) in try Self.inputs("DLPScan") {
      let matches = scanner.scan(bytes, limit: 64)
      found += matches.count
      #expect(matches.count <= 64, "\(name)")
      #expect(matches.allSatisfy { $0.offset >= 0 && $0.length > 0 && $0.offset + $0.length <= bytes.count }, "\(name)")
      #expect(zip(matches, matches.dropFirst()).allSatisfy { $0.offset <= $1.offset }, "\(name)")
      #expect(scanner.scan(bytes, limit: 64) == matches, "\(name)")
      let few = scanner.scan(bytes, limit: 2)
      #expect(few.count <= 2, "\(name)")
      for match in few {
        #expect(
          matches.contains { $0.offset < match.offset + match.length && match.offset < $0.offset + $0.length },
          "\(name): a capped scan found \(match.detector) where the full scan finds nothing")
      }
    }
    #expect(found > 0, "the DLP corpus finds nothing: the replay checks nothing")
  }

  /// Loading, validating and compiling: errors are fine, and the seeds are valid policies.
  @Test func policyDocumentCorpus() throws {
    var compiled = 0
    for (_, bytes) in try Self.inputs("PolicyDocument") {
      let format = PolicyDocument.Format.detect(fileName: nil, bytes: bytes)
      guard let document = try? PolicyDocument.load(bytes, format: format) else { continue }
      if (try? PolicySnapshot(document)) != nil { compiled += 1 }
    }
    #expect(compiled > 0)
  }
}
