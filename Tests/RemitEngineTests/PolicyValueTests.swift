import Foundation
import Testing

@testable import RemitEngine

/// The JSON tree read with the engine's parser must be the tree the `Decodable` reading gives (the
/// reference), so unknown-field detection does not change with the faster reader.
@Suite struct PolicyValueTests {
  static func both(_ json: String) throws -> (fast: PolicyValue, reference: PolicyValue) {
    let data = Data(json.utf8)
    return (try PolicyValue(json: Array(data)), try JSONDecoder().decode(PolicyValue.self, from: data))
  }

  @Test func agreesWithTheDecodableReadingOnDocuments() throws {
    let fixture = try PolicyDocument.load(Array(PolicyFixtures.basic.utf8), format: .yaml).jsonBytes()
    let documents = [
      String(decoding: fixture, as: UTF8.self),
      #"{"a":null,"b":[1,"x",true,null,{"c":{}}],"d":{"e":[[]],"f":1.5e300},"":{"":""}}"#,
      #"[{"x":1},[],null]"#, #""scalar""#, "3", "null", #"{"é\u00e9":{"\ud83d\ude00":[false]}}"#,
    ]
    for document in documents {
      let (fast, reference) = try Self.both(document)
      #expect(fast == reference, "\(document.prefix(80))")
    }
  }

  @Test func randomTreesAgree() throws {
    var generator = SystemRandomNumberGenerator()
    func value(_ depth: Int) -> String {
      switch Int.random(in: 0..<(depth > 3 ? 3 : 6), using: &generator) {
      case 0: return "null"
      case 1: return ["1", "-2.5", "true", "false", #""s""#].randomElement(using: &generator) ?? "1"
      case 2: return #""k\"\\\n""#
      case 3:
        return "[" + (0..<Int.random(in: 0..<4, using: &generator)).map { _ in value(depth + 1) }.joined(separator: ",")
          + "]"
      default:
        let keys = Set(
          (0..<Int.random(in: 0..<4, using: &generator)).map { _ in "k\(Int.random(in: 0..<6, using: &generator))" })
        return "{" + keys.map { "\"\($0)\":\(value(depth + 1))" }.joined(separator: ",") + "}"
      }
    }
    for _ in 0..<300 {
      let document = value(0)
      let (fast, reference) = try Self.both(document)
      #expect(fast == reference, "\(document)")
    }
  }

  /// A key given twice: JSONDecoder would use one copy and the unknown-field check could read the
  /// other, so an unknown field could pass. The document is refused instead.
  @Test func aDuplicateKeyRefusesTheDocument() throws {
    let json = #"""
      {"apiVersion":"remit/v1","kind":"Policy","metadata":{"name":"first","bogus":1},"metadata":{"name":"second"}}
      """#
    do {
      _ = try PolicyDocument.decode(Array(json.utf8), format: .json)
      Issue.record("a document with a duplicate key loaded")
    } catch {
      #expect(error.code == "policy_unreadable")
      #expect(error.issues.first?.message.contains("duplicate key") == true, "\(error.issues)")
    }
  }
}
