import Foundation
import Hummingbird

/// An API error: an HTTP status, a stable `code`, a message a person can act on and, for
/// validation, the fields at fault. Rendered as
/// `{"error": {"code", "message", "field"?}, "errors": [{"field", "message"}]?}`; `errors` lists
/// every field problem of a 422 (SPEC section 10), `error` is the first.
public struct ControlPlaneError: Error, HTTPResponseError, Sendable, Equatable, CustomStringConvertible {
  public struct FieldProblem: Codable, Sendable, Equatable {
    public var field: String
    public var message: String

    public init(field: String, message: String) {
      self.field = field
      self.message = message
    }
  }

  public var status: HTTPResponse.Status
  public var code: String
  public var message: String
  public var problems: [FieldProblem]

  public init(status: HTTPResponse.Status, code: String, message: String, problems: [FieldProblem] = []) {
    self.status = status
    self.code = code
    self.message = message
    self.problems = problems
  }

  public var description: String { "\(status.code) \(code): \(message)" }

  static func validation(_ problems: [FieldProblem]) -> ControlPlaneError {
    let first = problems.first.map { "\($0.field): \($0.message)" } ?? "the request is invalid"
    return ControlPlaneError(
      status: .unprocessableContent, code: "validation_failed", message: first, problems: problems)
  }

  static func validation(field: String, _ message: String) -> ControlPlaneError {
    validation([FieldProblem(field: field, message: message)])
  }

  static func notFound(_ what: String) -> ControlPlaneError {
    ControlPlaneError(status: .notFound, code: "not_found", message: "\(what.policyErrorExcerptForAPI) does not exist")
  }

  static let unauthenticated = ControlPlaneError(
    status: .unauthorized, code: "unauthenticated",
    message: "send a valid API key as Authorization: Bearer <key>"
  )

  static func forbidden(_ role: APIKeyRole) -> ControlPlaneError {
    ControlPlaneError(
      status: .forbidden, code: "forbidden", message: "an API key with role \(role.rawValue) may not do this")
  }

  struct Body: Encodable {
    struct Detail: Encodable {
      var code: String
      var message: String
      var field: String?
    }
    var error: Detail
    var errors: [FieldProblem]?
  }

  public func response(from request: Request, context: some RequestContext) throws -> Response {
    try makeResponse()
  }

  func makeResponse() throws -> Response {
    let body = Body(
      error: .init(code: code, message: message, field: problems.first?.field),
      errors: problems.isEmpty ? nil : problems
    )
    var response = try JSONResponse.make(status: status, body)
    if status == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer" }
    return response
  }
}

/// JSON responses with the encoder settings the whole API shares.
enum JSONResponse {
  static func make(status: HTTPResponse.Status = .ok, _ value: some Encodable) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let data = try encoder.encode(value)
    var headers = HTTPFields()
    headers[.contentType] = "application/json"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
  }
}
