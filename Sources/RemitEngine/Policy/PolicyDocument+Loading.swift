import Foundation
import Yams

extension PolicyDocument {
  /// The largest document accepted, in bytes. A policy with 10,000 agents is a few MiB.
  public static let maximumDocumentBytes = 64 << 20

  /// The most YAML nodes a document may expand to, aliases counted every time they are used: a
  /// kilobyte of nested aliases can otherwise stand for a billion nodes. 10,000 agents with
  /// missions and 10,000 threat indicators are a few hundred thousand.
  public static let maximumYAMLNodes = 2_000_000

  /// Composes YAML into a node tree, refusing one that expands beyond `limit` nodes. The tree
  /// shares aliased nodes, so composing is cheap; the count stops as soon as the limit is passed.
  public static func composeBoundedYAML(_ text: String, limit: Int = maximumYAMLNodes) throws(PolicyError) -> Node? {
    let node: Node?
    do {
      node = try Yams.compose(yaml: text)
    } catch {
      throw PolicyError(
        code: "policy_unreadable", issues: [PolicyIssue(path: "", message: "is not a readable YAML document: \(error)")]
      )
    }
    var budget = limit
    if let node, !withinBudget(node, &budget) {
      throw PolicyError(
        code: "policy_unreadable",
        issues: [
          PolicyIssue(path: "", message: "is too large: expands to more than \(limit) YAML nodes (aliases included)")
        ])
    }
    return node
  }

  /// False once more than `budget` nodes were seen; stops walking there.
  static func withinBudget(_ node: Node, _ budget: inout Int) -> Bool {
    budget -= 1
    if budget < 0 { return false }
    switch node {
    case .mapping(let mapping):
      for (key, value) in mapping {
        guard withinBudget(key, &budget), withinBudget(value, &budget) else { return false }
      }
    case .sequence(let sequence):
      for element in sequence {
        guard withinBudget(element, &budget) else { return false }
      }
    default:
      break
    }
    return true
  }

  public enum Format: Sendable {
    case yaml
    case json

    /// JSON when the file name says so or the text starts with `{`; YAML otherwise.
    public static func detect(fileName: String?, bytes: some Collection<UInt8>) -> Format {
      if let fileName, fileName.lowercased().hasSuffix(".json") { return .json }
      let first = bytes.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }
      return first == UInt8(ascii: "{") ? .json : .yaml
    }
  }

  /// Decodes a document and rejects unknown fields. Does not validate rules; see `validate()`.
  public static func decode(_ bytes: [UInt8], format: Format) throws(PolicyError) -> PolicyDocument {
    guard bytes.count <= maximumDocumentBytes else {
      throw PolicyError(
        code: "policy_unreadable",
        issues: [PolicyIssue(path: "", message: "document is larger than \(maximumDocumentBytes) bytes")]
      )
    }
    let data = Data(bytes)
    let document: PolicyDocument
    let tree: PolicyValue
    do {
      switch format {
      case .json:
        let decoder = JSONDecoder()
        document = try decoder.decode(PolicyDocument.self, from: data)
        do {
          tree = try PolicyValue(json: bytes)
        } catch {
          throw PolicyError(
            code: "policy_unreadable",
            issues: [PolicyIssue(path: "", message: "not a readable JSON document: \(error)")])
        }
      case .yaml:
        guard let text = String(validating: bytes, as: UTF8.self) else {
          throw PolicyError(
            code: "policy_unreadable",
            issues: [PolicyIssue(path: "", message: "document is not valid UTF-8")]
          )
        }
        guard let node = try composeBoundedYAML(text) else {
          throw PolicyError(code: "policy_unreadable", issues: [PolicyIssue(path: "", message: "document is empty")])
        }
        let decoder = YAMLDecoder()
        document = try decoder.decode(PolicyDocument.self, from: node)
        tree = try decoder.decode(PolicyValue.self, from: node)
      }
    } catch let error as PolicyError {
      throw error
    } catch let error as DecodingError {
      throw PolicyError(code: "policy_unreadable", issues: [PolicyIssue(error)])
    } catch {
      throw PolicyError(
        code: "policy_unreadable",
        issues: [
          PolicyIssue(path: "", message: "not a readable \(format == .json ? "JSON" : "YAML") document: \(error)")
        ]
      )
    }

    // Re-encode what the model understood and compare keys: anything left over is unknown.
    let known: PolicyValue
    do {
      known = try PolicyValue(json: Array(try JSONEncoder().encode(document)))
    } catch {
      throw PolicyError(code: "policy_unreadable", issues: [PolicyIssue(path: "", message: "\(error)")])
    }
    let unknown = tree.unknownKeys(comparedTo: known)
    guard unknown.isEmpty else {
      throw PolicyError(
        code: "policy_invalid",
        issues: unknown.map { PolicyIssue(path: $0, message: "unknown field") }
      )
    }
    return document
  }

  /// Decodes and validates. The result is ready to compile into a snapshot.
  public static func load(_ bytes: [UInt8], format: Format) throws(PolicyError) -> PolicyDocument {
    let document = try decode(bytes, format: format)
    try document.validate()
    return document
  }

  /// The document as JSON, with sorted keys so that equal documents give equal bytes.
  public func jsonBytes(pretty: Bool = false) -> [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys]
    // Encoding a value tree of strings, numbers and arrays cannot fail.
    return (try? Array(encoder.encode(self))) ?? []
  }
}

extension PolicyIssue {
  init(_ error: DecodingError) {
    switch error {
    case .typeMismatch(let type, let context):
      self.init(path: context.codingPath.policyPath, message: "expected \(Self.describe(type))")
    case .valueNotFound(let type, let context):
      self.init(path: context.codingPath.policyPath, message: "expected \(Self.describe(type)), found null")
    case .keyNotFound(let key, let context):
      self.init(path: (context.codingPath + [key]).policyPath, message: "required field is missing")
    case .dataCorrupted(let context):
      let message = context.underlyingError.map { "\($0)" } ?? context.debugDescription
      self.init(path: context.codingPath.policyPath, message: message)
    @unknown default:
      self.init(path: "", message: "\(error)")
    }
  }

  private static func describe(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: "a string"
    case is Int.Type: "an integer"
    case is Bool.Type: "true or false"
    case is [Any].Type: "a list"
    default:
      "\(type)".hasPrefix("Array") ? "a list" : (("\(type)".hasPrefix("Dictionary")) ? "a map" : "an object")
    }
  }
}

extension [any CodingKey] {
  /// `missions[2].allow[0].to` from a decoder's coding path.
  var policyPath: String {
    var path = ""
    for key in self {
      if let index = key.intValue {
        path += "[\(index)]"
      } else {
        path += path.isEmpty ? key.stringValue : ".\(key.stringValue)"
      }
    }
    return path
  }
}
