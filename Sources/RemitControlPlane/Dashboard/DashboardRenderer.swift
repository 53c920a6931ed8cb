import Hummingbird
import Mustache

/// Renders the embedded templates into HTML responses. Every variable in the templates is
/// `{{escaped}}`; DashboardTemplateTests fails on a triple mustache.
struct DashboardRenderer: Sendable {
  let library: MustacheLibrary

  init() {
    var library = MustacheLibrary()
    for (name, text) in DashboardTemplates.templates {
      do {
        try library.register(text, named: name)
      } catch {
        // The templates are compiled into the binary and parsed by a test.
        preconditionFailure("dashboard template \(name) does not parse: \(error)")
      }
    }
    self.library = library
  }

  func html(_ template: String, _ view: Any, status: HTTPResponse.Status = .ok) throws(DashboardError) -> Response {
    guard let text = library.render(view, withTemplate: template) else {
      throw DashboardError(status: .internalServerError, code: "template_missing", message: "The page cannot be shown.")
    }
    var headers = HTTPFields()
    headers[.contentType] = "text/html; charset=utf-8"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
  }
}

/// What every page's header needs.
struct DashboardLayout: Sendable {
  enum Section: Sendable {
    case agents, missions, decisions, chains, authorizers, secrets, none
  }

  var title: String
  var signedIn: Bool
  var tenant: String
  var role: String
  var csrf: String
  var canWrite: Bool
  var onAgents: Bool
  var onMissions: Bool
  var onDecisions: Bool
  var onChains: Bool
  var onAuthorizers: Bool
  var onSecrets: Bool
  var notice: String?

  init(title: String, session: DashboardSession?, section: Section = .none, notice: String? = nil) {
    self.title = title
    signedIn = session != nil
    tenant = session?.tenant ?? ""
    role = session?.role.rawValue ?? ""
    csrf = session?.csrfToken ?? ""
    canWrite = session?.canWrite ?? false
    onAgents = section == .agents
    onMissions = section == .missions
    onDecisions = section == .decisions
    onChains = section == .chains
    onAuthorizers = section == .authorizers
    onSecrets = section == .secrets
    self.notice = notice
  }
}

/// An option of a `<select>`.
struct DashboardOption: Sendable {
  var value: String
  var label: String
  var selected: Bool
}

/// A page for an error: `error.mustache`.
struct DashboardErrorView: Sendable {
  var layout: DashboardLayout
  var heading: String
  var message: String
  var status: Int
  var code: String
}
