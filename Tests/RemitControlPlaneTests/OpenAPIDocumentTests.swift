import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import RemitControlPlane

@Suite struct OpenAPIDocumentTests {
  static let yamlFile = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("openapi/control-plane.yaml")

  @Test func theServedCopyIsTheFileInTheRepository() throws {
    let file = try String(contentsOf: Self.yamlFile, encoding: .utf8)
    #expect(
      OpenAPIDocument.yaml + "\n" == file,
      "openapi/control-plane.yaml changed: run scripts/generate-openapi-swift.sh")
  }

  @Test func servedWithoutAKeyAsYAML() async throws {
    let fixture = try await ControlPlaneFixture.make()
    try await fixture.withAPI { client in
      let response = try await client.send(.get, "/openapi.yaml", key: nil)
      #expect(response.status == .ok)
      #expect(response.headers[.contentType] == "application/yaml")
      #expect(response.text == OpenAPIDocument.yaml + "\n")
      #expect(response.text.hasPrefix("openapi: 3.1.0\n"))
    }
  }

  /// Every route the router serves is in the document (the e2e test checks the responses).
  @Test func everyRouteIsDescribed() throws {
    let routes = [
      "/healthz:", "/openapi.yaml:", "/v1/agents:", "/v1/agents/{id}:", "/v1/missions:", "/v1/missions/{id}:",
      "/v1/policy:", "/v1/policy/{section}:", "/v1/snapshot:", "/v1/audit/events:", "/v1/authorizers:",
      "/v1/authorizers/{instance}:", "/v1/api-keys:", "/v1/api-keys/{id}:", "/v1/secrets:", "/v1/secrets/{name}:",
      "/v1/authorizers/{instance}/secrets:", "/v1/delegations/hops:", "/v1/delegations/chains:",
      "/v1/delegations/chains/{id}:", "/.well-known/jwks.json:",
    ]
    let paths = OpenAPIDocument.yaml.split(separator: "\n").filter { $0.hasPrefix("  /") }.map {
      $0.trimmingCharacters(in: .whitespaces)
    }
    #expect(paths.sorted() == routes.sorted())
  }
}
