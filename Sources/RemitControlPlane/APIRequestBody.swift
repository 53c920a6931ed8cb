import Foundation
import Hummingbird
import RemitEngine

/// Reads API request bodies with the policy loader's strictness: unknown fields are errors, and
/// issues name the resource's own fields (`meshIdentity.namespace`, `allow[0].to`).
enum APIRequestBody {
  static let agentLimit = 64 << 10
  static let missionLimit = 1 << 20
  static let sectionLimit = 8 << 20
  static let reportLimit = 16 << 10
  /// A hop is two member names, a chain id and two integers.
  static let hopLimit = 4 << 10

  static func bytes(_ request: Request, limit: Int) async throws -> [UInt8] {
    do {
      var request = request
      let buffer = try await request.collectBody(upTo: limit)
      return Array(buffer.readableBytesView)
    } catch {
      throw ControlPlaneError(
        status: .contentTooLarge, code: "body_too_large", message: "the request body must be at most \(limit) bytes")
    }
  }

  /// An agent; `pathID` is the id from the URL for PUT (the body may omit it).
  static func agent(_ bytes: [UInt8], pathID: String? = nil) throws -> PolicyDocument.Agent {
    let object = try jsonObject(bytes, pathID: pathID)
    let document = try strictDocument(["agents": [object]], prefix: "agents[0]")
    guard let agent = document.agents?.first else { throw ControlPlaneError.validation(field: "", "expected an agent") }
    return agent
  }

  static func mission(_ bytes: [UInt8], pathID: String? = nil) throws -> PolicyDocument.Mission {
    let object = try jsonObject(bytes, pathID: pathID)
    let document = try strictDocument(["missions": [object]], prefix: "missions[0]")
    guard let mission = document.missions?.first else {
      throw ControlPlaneError.validation(field: "", "expected a mission")
    }
    if let problem = PolicyRules.identifierProblem(mission.id) {
      throw ControlPlaneError.validation(field: "id", problem)
    }
    return mission
  }

  /// A section, re-encoded from the model so that only known fields are stored.
  static func section(_ bytes: [UInt8], _ section: PolicySection) throws -> String {
    let object = try jsonObject(bytes, pathID: nil)
    let document = try strictDocument([section.rawValue: object], prefix: section.rawValue)
    switch section {
    case .settings: return try ControlPlaneStore.json(document.settings ?? .init())
    case .dlp: return try ControlPlaneStore.json(document.dlp ?? .init())
    case .threatIntel: return try ControlPlaneStore.json(document.threatIntel ?? .init())
    case .aibom: return try ControlPlaneStore.json(document.aibom ?? .init())
    }
  }

  /// Parses one JSON object (so a body cannot smuggle other document keys) and fills or checks `id`.
  static func jsonObject(_ bytes: [UInt8], pathID: String?) throws -> [String: Any] {
    guard
      var object = (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]))
        as? [String: Any]
    else {
      throw ControlPlaneError(status: .badRequest, code: "invalid_json", message: "the body must be a JSON object")
    }
    if let pathID {
      if let bodyID = object["id"] {
        guard let text = bodyID as? String, text == pathID else {
          throw ControlPlaneError.validation(field: "id", "must match the id in the URL (or be omitted)")
        }
      } else {
        object["id"] = pathID
      }
    }
    return object
  }

  /// Decodes `sections` as a policy document with the loader (unknown fields rejected) and maps
  /// issue paths under `prefix` to the resource's fields. Rule validation happens on commit.
  static func strictDocument(_ sections: [String: Any], prefix: String) throws -> PolicyDocument {
    var wrapper = sections
    wrapper["apiVersion"] = PolicyDocument.apiVersionV1
    wrapper["kind"] = PolicyDocument.kindPolicy
    let data: Data
    do {
      data = try JSONSerialization.data(withJSONObject: wrapper)
    } catch {
      throw ControlPlaneError(status: .badRequest, code: "invalid_json", message: "the body is not valid JSON")
    }
    do {
      return try PolicyDocument.decode(Array(data), format: .json)
    } catch {
      throw ControlPlaneError.validation(
        error.issues.map { issue in
          var field = issue.path
          if field == prefix {
            field = ""
          } else if field.hasPrefix(prefix + ".") {
            field = String(field.dropFirst(prefix.count + 1))
          }
          return .init(field: field, message: issue.message)
        }
      )
    }
  }
}
