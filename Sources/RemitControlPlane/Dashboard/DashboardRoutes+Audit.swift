import Foundation
import Hummingbird

/// Decisions (the audit log, filtered and paged with the store's cursor) and Authorizers.
extension DashboardRoutes {
  /// The longest filter value accepted from the query string.
  static let maximumFilterLength = 256

  struct DecisionRow: Sendable {
    var decisionId: String
    var time: String
    var verdict: String
    var mode: String?
    var reason: String?
    var wouldDeny: String?
    var agent: String
    var destination: String
    var kind: String?
    var request: String
    var policyVersion: String
    var authorizer: String

    init(_ event: AuditEvent) {
      decisionId = event.decisionId
      time = RFC3339.string(event.time)
      verdict = event.verdict
      mode = event.mode
      reason = event.reason
      wouldDeny = event.wouldDeny
      agent = event.agent ?? ""
      destination = event.destination ?? event.externalHost ?? ""
      kind = event.kind
      var request = [event.method, event.path].compactMap { $0 }.joined(separator: " ")
      if let tool = event.tool { request += " · tool \(tool)" }
      if let method = event.rpcMethod, event.tool == nil { request += " · \(method)" }
      self.request = request
      policyVersion = event.policyVersion ?? ""
      authorizer = event.authorizer ?? ""
    }
  }

  struct DecisionFilter: Sendable {
    var agent: String
    var verdict: String
    var reason: String
  }

  struct DecisionsView: Sendable {
    var layout: DashboardLayout
    var filter: DecisionFilter
    var verdictOptions: [DashboardOption]
    var events: [DecisionRow]
    var hasEvents: Bool
    var nextPage: String?
    var error: String?
  }

  struct AuthorizerRow: Sendable {
    var id: String
    var policyVersion: String
    var lastSync: String
    var lastSeen: String
    var remitVersion: String
    var status: String

    init(_ record: AuthorizerRecord) {
      id = record.id
      policyVersion = record.policyVersion ?? "none"
      lastSync = record.lastSync.map(RFC3339.string) ?? "never"
      lastSeen = RFC3339.string(record.lastSeen)
      remitVersion = record.remitVersion
      status = record.status.rawValue
    }
  }

  struct AuthorizersView: Sendable {
    var layout: DashboardLayout
    var currentVersion: Int64
    var authorizers: [AuthorizerRow]
    var hasAuthorizers: Bool
  }

  func addAuditRoutes(to ui: RouterGroup<ControlPlaneRequestContext>) {
    ui.get(
      "/decisions",
      use: page { request, _, session in
        let form = try DashboardForm.query(request)
        let filter = DecisionFilter(
          agent: form["agent"] ?? "", verdict: form["verdict"] ?? "", reason: form["reason"] ?? "")
        var verdictOptions = [DashboardOption(value: "", label: "any", selected: filter.verdict.isEmpty)]
        verdictOptions += ["allow", "deny"].map {
          DashboardOption(value: $0, label: $0, selected: $0 == filter.verdict)
        }
        var view = DecisionsView(
          layout: DashboardLayout(title: "Decisions", session: session, section: .decisions), filter: filter,
          verdictOptions: verdictOptions, events: [], hasEvents: false, nextPage: nil, error: nil)
        let values = [filter.agent, filter.verdict, filter.reason, form["cursor"] ?? ""]
        guard values.allSatisfy({ $0.utf8.count <= Self.maximumFilterLength }) else {
          view.error = "Each filter must be at most \(Self.maximumFilterLength) characters."
          return try renderer.html("decisions", view, status: .unprocessableContent)
        }
        let query = AuditQuery(
          agent: form.nonEmpty("agent"), verdict: form.nonEmpty("verdict"), reason: form.nonEmpty("reason"),
          cursor: form.nonEmpty("cursor"))
        let page: AuditPage
        do {
          page = try await store.auditEvents(tenant: session.tenant, query)
        } catch let error as ControlPlaneError where error.status == .unprocessableContent {
          view.error = error.problems.first.map { "\($0.field): \($0.message)" } ?? error.message
          return try renderer.html("decisions", view, status: .unprocessableContent)
        }
        view.events = page.events.map(DecisionRow.init)
        view.hasEvents = !view.events.isEmpty
        view.nextPage = page.nextCursor.map { cursor in
          let parameters =
            [("agent", filter.agent), ("verdict", filter.verdict), ("reason", filter.reason)]
            .filter { !$0.1.isEmpty } + [("cursor", cursor)]
          return "/ui/decisions?"
            + parameters.map { "\($0.0)=\(Self.queryValue($0.1))" }.joined(separator: "&")
        }
        return try renderer.html("decisions", view)
      })
    ui.get(
      "/authorizers",
      use: page { _, _, session in
        let records = try await store.authorizers(tenant: session.tenant)
        let view = AuthorizersView(
          layout: DashboardLayout(title: "Authorizers", session: session, section: .authorizers),
          currentVersion: try await store.policyVersion(tenant: session.tenant),
          authorizers: records.map(AuthorizerRow.init), hasAuthorizers: !records.isEmpty)
        return try renderer.html("authorizers", view)
      })
  }

  /// A query parameter value, percent-encoded.
  static func queryValue(_ text: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
  }
}
