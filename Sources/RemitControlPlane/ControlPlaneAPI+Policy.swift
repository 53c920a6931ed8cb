import Foundation
import Hummingbird
import RemitEngine

extension ControlPlaneAPI {
  /// A whole document of 10,000 agents is a few MiB.
  static let policyDocumentLimit = 16 << 20

  struct PolicyVersionBody: Encodable {
    var version: Int64
  }

  /// `PUT /v1/policy[?dryRun=true]`: JSON, or YAML when the Content-Type says so.
  static func replacePolicy(_ request: Request, tenant: String, store: ControlPlaneStore) async throws -> Response {
    var dryRun = false
    if let text = request.uri.queryParameters.get("dryRun") {
      guard let value = Bool(text) else { throw ControlPlaneError.validation(field: "dryRun", "must be true or false") }
      dryRun = value
    }
    let contentType = request.headers[.contentType]?.lowercased() ?? ""
    let isYAML = ["application/yaml", "application/x-yaml", "text/yaml"].contains { contentType.hasPrefix($0) }
    let bytes = try await APIRequestBody.bytes(request, limit: policyDocumentLimit)
    let document: PolicyDocument
    do {
      document = try PolicyDocument.decode(bytes, format: isYAML ? .yaml : .json)
    } catch {
      // Not YAML or JSON at all: a 400, like any unreadable body. A field of the wrong type or an
      // unknown field: a 422 naming it.
      if error.code == "policy_unreadable", error.issues.allSatisfy({ $0.path.isEmpty }) {
        throw ControlPlaneError(
          status: .badRequest, code: isYAML ? "invalid_yaml" : "invalid_json",
          message: "the body is not a \(isYAML ? "YAML" : "JSON") policy document"
            + (isYAML ? "" : " (send Content-Type: application/yaml for YAML)"))
      }
      throw ControlPlaneError.validation(error.issues.map { .init(field: $0.path, message: $0.message) })
    }
    let version = try await store.replacePolicy(tenant: tenant, document, dryRun: dryRun)
    return try written(.ok, PolicyVersionBody(version: version), version: version)
  }
}
