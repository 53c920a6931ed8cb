import Foundation
import Hummingbird

/// Secrets: names and update times, a write-only form to set one, delete. Values are never shown,
/// logged or put back into the page (a refused form comes back with the value field empty).
/// Admins only, as `GET /v1/secrets` is.
extension DashboardRoutes {
  struct SecretRow: Sendable {
    var name: String
    var path: String
    var updated: String

    init(_ record: SecretRecord) {
      name = record.name
      path = DashboardRoutes.pathSegment(record.name)
      updated = RFC3339.string(record.updated)
    }
  }

  struct SecretsView: Sendable {
    var layout: DashboardLayout
    var secrets: [SecretRow]
    var hasSecrets: Bool
    /// The name typed into a refused form (never the value).
    var name: String
    var error: String?
    var disabled: Bool
  }

  func addSecretRoutes(to ui: RouterGroup<ControlPlaneRequestContext>) {
    ui.get(
      "/secrets",
      use: page { request, _, session in
        guard session.canWrite else { throw DashboardError.readOnly }
        return try await secretsPage(session: session, notice: Self.notice(request))
      })
    ui.post(
      "/secrets",
      use: form { _, _, session, form in
        let name = form["name"] ?? ""
        do {
          try await store.putSecret(tenant: session.tenant, name: name, value: form["value"] ?? "")
          return .redirect(to: "/ui/secrets?notice=saved")
        } catch let error as ControlPlaneError where error.status.code < 500 || error.code == "secrets_disabled" {
          let message = error.problems.first.map { "\($0.field): \($0.message)" } ?? error.message
          return try await secretsPage(
            session: session, name: name.utf8.count <= 128 ? name : "", error: message, status: error.status)
        }
      })
    ui.post(
      "/secrets/:name/delete",
      use: form { _, context, session, _ in
        try await store.deleteSecret(tenant: session.tenant, name: try context.parameters.require("name"))
        return .redirect(to: "/ui/secrets?notice=deleted")
      })
  }

  func secretsPage(
    session: DashboardSession, name: String = "", error: String? = nil, notice: String? = nil,
    status: HTTPResponse.Status = .ok
  ) async throws -> Response {
    let secrets = try await store.secrets(tenant: session.tenant).map(SecretRow.init)
    let view = SecretsView(
      layout: DashboardLayout(title: "Secrets", session: session, section: .secrets, notice: notice),
      secrets: secrets, hasSecrets: !secrets.isEmpty, name: name, error: error,
      disabled: store.options.secretsKey == nil)
    return try renderer.html("secrets", view, status: status)
  }
}
