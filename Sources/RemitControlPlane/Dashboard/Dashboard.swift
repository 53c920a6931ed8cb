import Foundation
import Hummingbird

/// The web dashboard at `/ui`: server-rendered HTML that works without JavaScript. Signed in
/// with an admin or reader API key; every page is scoped to the session's tenant.
public enum Dashboard {
  /// Adds the `/ui` routes to the control plane's router.
  public static func mount(
    on router: Router<ControlPlaneRequestContext>, store: ControlPlaneStore, configuration: DashboardConfiguration
  ) {
    mount(
      on: router, store: store, configuration: configuration,
      signInThrottle: SignInThrottle(
        limit: configuration.signInFailureLimit, windowSeconds: configuration.signInWindow))
  }

  /// Mounts the routes with a given throttle (tests give it a clock they move).
  static func mount(
    on router: Router<ControlPlaneRequestContext>, store: ControlPlaneStore, configuration: DashboardConfiguration,
    signInThrottle: SignInThrottle
  ) {
    let routes = DashboardRoutes(
      store: store, configuration: configuration, renderer: DashboardRenderer(), signInThrottle: signInThrottle)
    routes.add(to: router)
  }
}

/// The handlers of every dashboard page.
struct DashboardRoutes: Sendable {
  typealias Handler = @Sendable (Request, ControlPlaneRequestContext, DashboardSession) async throws -> Response
  typealias FormHandler =
    @Sendable (Request, ControlPlaneRequestContext, DashboardSession, DashboardForm) async throws ->
    Response

  let store: ControlPlaneStore
  let configuration: DashboardConfiguration
  let renderer: DashboardRenderer
  let signInThrottle: SignInThrottle

  func add(to router: Router<ControlPlaneRequestContext>) {
    let ui = router.group("/ui").add(middleware: DashboardMiddleware(renderer: renderer))
    ui.get("/") { request, _ -> Response in
      try await session(request) == nil ? .redirect(to: "/ui/sign-in") : .redirect(to: "/ui/agents")
    }
    ui.get("/static/:file") { _, context -> Response in
      let name = try context.parameters.require("file")
      guard let text = DashboardTemplates.staticFiles[name], name.hasSuffix(".css") else {
        throw DashboardError.notFound
      }
      var headers = HTTPFields()
      headers[.contentType] = "text/css; charset=utf-8"
      return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
    ui.get("/sign-in") { request, _ -> Response in try await signInPage(request) }
    ui.post("/sign-in") { request, context -> Response in
      try await signIn(request, client: context.remoteAddress?.ipAddress ?? "in-process")
    }
    ui.post("/sign-out", use: form(readers: true) { request, _, _, _ in try await signOut(request) })

    addAgentRoutes(to: ui)
    addMissionRoutes(to: ui)
    addAuditRoutes(to: ui)
    addChainRoutes(to: ui)
    addSecretRoutes(to: ui)

    // Everything else under /ui: a 404 page with the security headers.
    ui.get("/**") { _, _ -> Response in throw DashboardError.notFound }
    ui.post("/**") { _, _ -> Response in throw DashboardError.notFound }
  }

  // MARK: Sessions

  func session(_ request: Request) async throws -> DashboardSession? {
    guard let token = DashboardSecurity.cookieValue(request, DashboardSecurity.sessionCookie) else { return nil }
    return try await store.dashboardSession(token: token, configuration: configuration, now: ControlPlaneStore.now())
  }

  /// A GET page for a signed-in user; without a session, the sign-in page.
  func page(_ handler: @escaping Handler) -> @Sendable (Request, ControlPlaneRequestContext) async throws -> Response {
    { request, context in
      guard let session = try await session(request) else { return .redirect(to: "/ui/sign-in") }
      return try await handler(request, context, session)
    }
  }

  /// A POST form: checks, in order, the session, the request's origin, the CSRF token and (unless
  /// `readers` is true) that the role may write.
  func form(readers: Bool = false, _ handler: @escaping FormHandler)
    -> @Sendable (Request, ControlPlaneRequestContext)
    async throws -> Response
  {
    { request, context in
      guard let session = try await session(request) else { return .redirect(to: "/ui/sign-in") }
      guard DashboardSecurity.isSameOrigin(request) else { throw DashboardError.csrfRefused }
      let form = try await DashboardForm.read(request)
      guard let token = form["csrf"], DashboardSession.constantTimeEqual(token, session.csrfToken) else {
        throw DashboardError.csrfRefused
      }
      guard readers || session.canWrite else { throw DashboardError.readOnly }
      return try await handler(request, context, session, form)
    }
  }

  // MARK: Sign in and out

  struct SignInView: Sendable {
    var layout: DashboardLayout
    var signInToken: String
    var error: String?
  }

  func signInPage(_ request: Request, error: String? = nil, status: HTTPResponse.Status = .ok) async throws -> Response
  {
    if error == nil, try await session(request) != nil { return .redirect(to: "/ui/agents") }
    let token = DashboardSession.newToken()
    var response = try renderer.html(
      "sign-in", SignInView(layout: DashboardLayout(title: "Sign in", session: nil), signInToken: token, error: error),
      status: status)
    response.headers.append(
      HTTPFields.Element(
        name: .setCookie,
        value: DashboardSecurity.cookie(
          name: DashboardSecurity.signInCookie, value: token, maxAge: DashboardSecurity.signInCookieLifetime,
          secure: DashboardSecurity.wantsSecureCookies(request, configuration: configuration))))
    return response
  }

  /// `client` is the address failed attempts are counted by.
  func signIn(_ request: Request, client: String) async throws -> Response {
    guard DashboardSecurity.isSameOrigin(request) else { throw DashboardError.csrfRefused }
    let form = try await DashboardForm.read(request)
    // The sign-in form has no session yet: its token is the double-submit of the sign-in cookie.
    guard let cookie = DashboardSecurity.cookieValue(request, DashboardSecurity.signInCookie),
      DashboardSession.isWellFormedToken(cookie), let token = form["csrf"],
      DashboardSession.constantTimeEqual(token, cookie)
    else { throw DashboardError.csrfRefused }
    // Refused before the key is looked at: a client over the limit learns nothing from trying.
    if let wait = signInThrottle.retryAfter(client) {
      var response = try await signInPage(
        request, error: "Too many failed sign-ins from your address. Try again in \(wait) seconds.",
        status: .tooManyRequests)
      response.headers[.retryAfter] = String(wait)
      return response
    }
    let refused = "That API key was not accepted. Use an admin or reader key of your tenant."
    guard let key = form.nonEmpty("key"), let principal = try await store.authenticate(key: key) else {
      signInThrottle.recordFailure(client)
      return try await signInPage(request, error: refused, status: .unauthorized)
    }
    signInThrottle.recordSuccess(client)
    guard principal.role != .authorizer else {
      return try await signInPage(
        request, error: "Authorizer keys cannot sign in to the dashboard. Use an admin or reader key.",
        status: .forbidden)
    }
    let (sessionToken, _) = try await store.createDashboardSession(
      for: principal, configuration: configuration, now: ControlPlaneStore.now())
    let secure = DashboardSecurity.wantsSecureCookies(request, configuration: configuration)
    var response = Response.redirect(to: "/ui/agents")
    response.headers.append(
      HTTPFields.Element(
        name: .setCookie,
        value: DashboardSecurity.cookie(
          name: DashboardSecurity.sessionCookie, value: sessionToken, maxAge: configuration.absoluteTimeout,
          secure: secure)))
    response.headers.append(
      HTTPFields.Element(
        name: .setCookie,
        value: DashboardSecurity.cookie(name: DashboardSecurity.signInCookie, value: "", maxAge: 0, secure: secure)))
    return response
  }

  /// Ends the session (already checked by `form`) and clears the cookie.
  func signOut(_ request: Request) async throws -> Response {
    if let token = DashboardSecurity.cookieValue(request, DashboardSecurity.sessionCookie) {
      try await store.deleteDashboardSession(token: token)
    }
    var response = Response.redirect(to: "/ui/sign-in")
    response.headers.append(
      HTTPFields.Element(
        name: .setCookie,
        value: DashboardSecurity.cookie(
          name: DashboardSecurity.sessionCookie, value: "", maxAge: 0,
          secure: DashboardSecurity.wantsSecureCookies(request, configuration: configuration))))
    return response
  }

  // MARK: Helpers

  /// A fixed notice for `?notice=`: never the parameter's own text.
  static func notice(_ request: Request) -> String? {
    switch request.uri.queryParameters.get("notice") {
    case "created": "Created."
    case "saved": "Saved."
    case "deleted": "Deleted."
    default: nil
    }
  }

  /// An id as one URL path segment.
  static func pathSegment(_ id: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return id.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
  }
}

/// Renders `DashboardError` and store errors as HTML pages, and sets the security headers on
/// every `/ui` response. Never logs form values, keys or session ids.
struct DashboardMiddleware<Context: RequestContext>: RouterMiddleware {
  let renderer: DashboardRenderer

  func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
    -> Response
  {
    var response: Response
    do {
      response = try await next(request, context)
    } catch let error as DashboardError {
      response = errorPage(error)
    } catch let error as ControlPlaneError {
      response = errorPage(DashboardError(status: error.status, code: error.code, message: error.message))
    } catch {
      context.logger.error(
        "dashboard request failed",
        metadata: ["error_type": "\(String(reflecting: type(of: error)))", "path": "\(request.uri.path)"])
      response = errorPage(
        DashboardError(
          status: .internalServerError, code: "internal_error",
          message: "The control plane could not complete the request; see its log."))
    }
    DashboardSecurity.applyHeaders(&response)
    return response
  }

  func errorPage(_ error: DashboardError) -> Response {
    let heading =
      switch error.status.code {
      case 403: "Forbidden"
      case 404: "Not found"
      case 500...: "Something went wrong"
      default: "The request was refused"
      }
    let view = DashboardErrorView(
      layout: DashboardLayout(title: heading, session: nil), heading: heading, message: error.message,
      status: error.status.code, code: error.code)
    do {
      return try renderer.html("error", view, status: error.status)
    } catch {
      return Response(status: .internalServerError)
    }
  }
}
