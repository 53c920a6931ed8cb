import Foundation
import Hummingbird
import RemitEngine

/// `POST /v1/audit/events`: `{"authorizer": "<instance>", "events": [AuditEvent, …]}`.
struct AuditBatch: Decodable {
  static let bodyLimit = 4 << 20

  var authorizer: String
  var events: [AuditEvent]

  struct Result: Encodable {
    var accepted: Int
    var duplicates: Int
  }

  static func decode(_ bytes: [UInt8]) throws -> AuditBatch {
    try ControlPlaneAPI.decodeJSON(AuditBatch.self, bytes)
  }
}

extension ControlPlaneAPI {
  /// Decodes a JSON body; a malformed body is 400, a wrong or missing field 422 naming it.
  /// Unknown fields are ignored here: authorizers of a newer release may send more.
  static func decodeJSON<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) throws -> T {
    do {
      return try JSONDecoder().decode(type, from: Data(bytes))
    } catch let error as DecodingError {
      if case .dataCorrupted(let context) = error, context.codingPath.isEmpty {
        throw ControlPlaneError(status: .badRequest, code: "invalid_json", message: "the body is not valid JSON")
      }
      throw ControlPlaneError.validation([error.fieldProblem])
    }
  }

  /// The query of `GET /v1/audit/events`, each parameter checked with a 422 naming it.
  static func auditQuery(_ request: Request) throws -> AuditQuery {
    let parameters = request.uri.queryParameters
    var query = AuditQuery()
    func text(_ name: String) throws -> String? {
      guard let value = parameters.get(name) else { return nil }
      guard !value.isEmpty, value.utf8.count <= AuditEvent.maximumStringBytes else {
        throw ControlPlaneError.validation(
          field: name, "must be 1 to \(AuditEvent.maximumStringBytes) bytes (omit it to match any)")
      }
      return value
    }
    func time(_ name: String) throws -> Date? {
      guard let value = parameters.get(name) else { return nil }
      guard let date = RFC3339.date(value) else {
        throw ControlPlaneError.validation(field: name, "must be an RFC 3339 time, e.g. \(RFC3339.example)")
      }
      return date
    }
    query.agent = try text("agent")
    query.verdict = try text("verdict")
    if let verdict = query.verdict, !AuditEvent.verdicts.contains(verdict) {
      throw ControlPlaneError.validation(field: "verdict", "must be allow or deny")
    }
    query.reason = try text("reason")
    query.kind = try text("kind")
    if let kind = query.kind, !AuditEvent.kinds.contains(kind) {
      throw ControlPlaneError.validation(field: "kind", "must be east_west, a2a or egress")
    }
    query.chain = try text("chain")
    if let chain = query.chain, !DelegationHop.isValidChainID(chain) {
      throw ControlPlaneError.validation(field: "chain", "must be 1-128 characters of A-Z, a-z, 0-9, ., _, : and -")
    }
    query.since = try time("since")
    query.until = try time("until")
    if let value = parameters.get("limit") {
      guard let limit = Int(value), (1...AuditQuery.maximumLimit).contains(limit) else {
        throw ControlPlaneError.validation(field: "limit", "must be an integer from 1 to \(AuditQuery.maximumLimit)")
      }
      query.limit = limit
    }
    query.cursor = try text("cursor")
    return query
  }
}
