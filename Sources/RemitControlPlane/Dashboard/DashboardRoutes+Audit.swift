import Hummingbird

/// Decisions and Authorizers: filled in once the audit-event and authorizer store lands.
extension DashboardRoutes {
  func addAuditRoutes(to ui: RouterGroup<BasicRequestContext>) {
  }
}
