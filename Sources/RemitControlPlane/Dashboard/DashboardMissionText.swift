import Foundation
import RemitEngine
import Yams

/// A mission typed into the dashboard's textarea, as YAML or JSON, read with the same strictness
/// and the same field names in its errors as `POST /v1/missions`.
enum DashboardMissionText {
  /// The largest YAML node tree read (aliases can make a small text a huge tree).
  static let maximumNodes = 20_000

  /// The mission in `text`. `pathID` is the id of the mission being edited: the text may omit
  /// `id` or must repeat it. Throws `ControlPlaneError` with field problems.
  static func mission(_ text: String, pathID: String?) throws -> PolicyDocument.Mission {
    let bytes = Array(text.utf8)
    if PolicyDocument.Format.detect(fileName: nil, bytes: bytes) == .json {
      return try APIRequestBody.mission(bytes, pathID: pathID)
    }
    let composed: Node?
    do {
      composed = try PolicyDocument.composeBoundedYAML(text, limit: maximumNodes)
    } catch {
      throw ControlPlaneError.validation(field: "", error.issues.first?.message ?? "is not a readable YAML document")
    }
    guard case .mapping(var mapping)? = composed else {
      throw ControlPlaneError.validation(field: "", "must be a mission: a YAML mapping or a JSON object")
    }
    if let pathID {
      if let id = mapping["id"] {
        guard id.string == pathID else {
          throw ControlPlaneError.validation(field: "id", "must match the id in the URL (or be omitted)")
        }
      } else {
        mapping["id"] = Node(pathID)
      }
    }
    let wrapper = Node.mapping(
      Node.Mapping([
        (Node("apiVersion"), Node(PolicyDocument.apiVersionV1)),
        (Node("kind"), Node(PolicyDocument.kindPolicy)),
        (Node("missions"), Node.sequence(Node.Sequence([.mapping(mapping)]))),
      ]))
    let document: PolicyDocument
    do {
      document = try PolicyDocument.decode(Array(try Yams.serialize(node: wrapper).utf8), format: .yaml)
    } catch let error as PolicyError {
      throw ControlPlaneError.validation(
        error.issues.map { issue in .init(field: field(issue.path), message: issue.message) })
    }
    guard let mission = document.missions?.first else {
      throw ControlPlaneError.validation(field: "", "must be a mission: a YAML mapping or a JSON object")
    }
    // Through the API's reader too, for its id checks.
    let encoder = JSONEncoder()
    return try APIRequestBody.mission(Array(try encoder.encode(mission)), pathID: pathID)
  }

  /// The mission as YAML, for the textarea.
  static func yaml(_ mission: PolicyDocument.Mission) -> String {
    (try? YAMLEncoder().encode(mission)) ?? ""
  }

  /// `missions[0].allow[0].to` → `allow[0].to`.
  static func field(_ path: String) -> String {
    let prefix = "missions[0]"
    if path == prefix { return "" }
    if path.hasPrefix(prefix + ".") { return String(path.dropFirst(prefix.count + 1)) }
    return path
  }
}
