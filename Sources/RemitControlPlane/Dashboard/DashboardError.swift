import Hummingbird

/// A dashboard request that cannot be served, shown to the user as an HTML page with the status
/// and a stable code.
struct DashboardError: Error, Sendable, Equatable {
  var status: HTTPResponse.Status
  var code: String
  var message: String

  static let csrfRefused = DashboardError(
    status: .forbidden, code: "csrf_refused",
    message: "The form was refused: it did not come from this dashboard's own page. Reload the page and try again.")

  static let readOnly = DashboardError(
    status: .forbidden, code: "read_only", message: "Your role (reader) may look at everything but change nothing.")

  static let notFound = DashboardError(status: .notFound, code: "not_found", message: "There is no such page.")
}
