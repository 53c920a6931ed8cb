import Foundation
import Hummingbird
import HummingbirdTesting
import SQLKit
import Testing

@testable import RemitControlPlane

@Suite struct DashboardSessionTests {
  /// The routes under `/ui` that answer without a session: signing in, the stylesheet and the
  /// catch-all 404. Every other registered one is walked below.
  static let publicDashboardRoutes: Set<String> = [
    "GET /ui/sign-in", "POST /ui/sign-in", "GET /ui/static/{file}", "GET /ui/**", "POST /ui/**",
  ]

  /// Every route registered under `/ui`, read from the router itself, so a page added later is
  /// walked without editing this test.
  static func dashboardRoutes(_ store: ControlPlaneStore) -> [(method: HTTPRequest.Method, path: String)] {
    let router = ControlPlaneAPI.router(store: store)
    Dashboard.mount(on: router, store: store, configuration: DashboardConfiguration())
    return router.routes.map { (method: $0.method, path: $0.path.description) }
      .filter { $0.path == "/ui" || $0.path.hasPrefix("/ui/") }
  }

  @Test func withoutASessionEveryPageAndFormRedirectsToSignIn() async throws {
    let fixture = try await ControlPlaneFixture.make()
    _ = try await fixture.store.createAgent(tenant: "default", .init(id: "bot"))
    _ = try await fixture.store.createMission(tenant: "default", .init(id: "checkout"))
    let routes = Self.dashboardRoutes(fixture.store)
    let names = Set(routes.map { "\($0.method) \($0.path)" })
    #expect(Self.publicDashboardRoutes.isSubset(of: names), "\(names)")
    let walked = routes.filter { !Self.publicDashboardRoutes.contains("\($0.method) \($0.path)") }
    // Pages and forms of agents, missions, decisions, authorizers, chains and secrets, and sign-out.
    #expect(walked.count >= 22, "\(walked.map { "\($0.method) \($0.path)" })")
    for required in [
      "GET /ui/chains", "GET /ui/chains/{id}", "GET /ui/secrets", "POST /ui/secrets", "GET /ui/agents/{id}/edit",
      "POST /ui/missions/{id}", "POST /ui/sign-out",
    ] {
      #expect(names.contains(required), "\(required) is not registered: \(names)")
    }
    try await fixture.withDashboard { client in
      for route in walked {
        let uri = route.path.replacingOccurrences(
          of: "{id}", with: route.path.contains("missions") ? "checkout" : "bot"
        )
        .replacingOccurrences(of: "{name}", with: "api")
        #expect(!uri.contains("{"), "a parameter of \(route.path) has no value")
        var headers = HTTPFields()
        var body: ByteBuffer?
        if route.method == .post {
          headers[.contentType] = "application/x-www-form-urlencoded"
          headers[.origin] = "http://localhost"
          body = ByteBuffer(string: "csrf=x&name=api&value=v")
        }
        let response = try await client.executeRequest(uri: uri, method: route.method, headers: headers, body: body)
        #expect(response.status == .seeOther, "\(route.method) \(uri): \(response.status)")
        #expect(response.headers[.location] == "/ui/sign-in", "\(route.method) \(uri)")
      }
      #expect(try await fixture.store.agents(tenant: "default").count == 1)
      #expect(try await fixture.store.missions(tenant: "default").count == 1)
    }
  }

  // On both stores: the session SQL runs on SQLite and PostgreSQL alike.
  @Test(arguments: TestBackend.all)
  func signingInWithAnAdminKeyStartsASessionWithAStrictHttpOnlyCookie(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    try await fixture.withDashboard { client in
      let browser = DashboardBrowser(client)
      let signIn = try await browser.signIn(fixture.adminKey)
      #expect(signIn.status == .seeOther)
      #expect(signIn.headers[.location] == "/ui/agents")
      let cookie = try #require(browser.setCookies[DashboardSecurity.sessionCookie])
      #expect(cookie.contains("; HttpOnly"))
      #expect(cookie.contains("; SameSite=Strict"))
      #expect(cookie.contains("; Path=/ui"))
      #expect(!cookie.contains("Secure"))
      let token = try #require(browser.cookies[DashboardSecurity.sessionCookie])
      #expect(token.utf8.count == 43)

      let agents = try await browser.get("/ui/agents")
      #expect(agents.status == .ok)
      #expect(agents.text.contains("<h1>Agents</h1>"))
      #expect(agents.text.contains("Tenant <strong>default</strong> · admin"))
      #expect(try await browser.get("/ui").headers[.location] == "/ui/agents")
    }
  }

  // On both stores: the session SQL runs on SQLite and PostgreSQL alike.
  @Test(arguments: TestBackend.all)
  func theSessionIdIsStoredOnlyAsItsHash(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    let store = fixture.store
    try await fixture.withDashboard { client in
      let browser = DashboardBrowser(client)
      _ = try await browser.signIn(fixture.adminKey)
      let token = try #require(browser.cookies[DashboardSecurity.sessionCookie])
      let stored = try await store.database.read { db in
        try await db.raw("SELECT id_hash FROM dashboard_sessions").all().map {
          try $0.decode(column: "id_hash", as: String.self)
        }
      }
      #expect(stored == [APIKey.hash(token)])
    }
  }

  @Test func cookiesAreSecureWhenConfiguredOrWhenTheProxySaysHTTPS() async throws {
    let fixture = try await ControlPlaneFixture.make()
    try await fixture.withDashboard(DashboardConfiguration(secureCookies: true)) { client in
      let browser = DashboardBrowser(client)
      _ = try await browser.signIn(fixture.adminKey)
      #expect(browser.setCookies[DashboardSecurity.sessionCookie]?.hasSuffix("; Secure") == true)
    }
    let proxied = try await ControlPlaneFixture.make()
    try await proxied.withDashboard { client in
      let browser = DashboardBrowser(client)
      let https: HTTPFields = [DashboardSecurity.xForwardedProto: "https"]
      let page = try await browser.get("/ui/sign-in", headers: https)
      #expect(browser.setCookies[DashboardSecurity.signInCookie]?.hasSuffix("; Secure") == true)
      let token = try #require(DashboardBrowser.csrf(in: page.text))
      _ = try await browser.post("/ui/sign-in", [("csrf", token), ("key", proxied.adminKey)], headers: https)
      #expect(browser.setCookies[DashboardSecurity.sessionCookie]?.hasSuffix("; Secure") == true)
    }
  }

  @Test func authorizerKeysAndUnknownKeysCannotSignIn() async throws {
    let fixture = try await ControlPlaneFixture.make()
    let authorizer = try await fixture.store.issueKey(tenant: "default", role: .authorizer)
    try await fixture.withDashboard { client in
      let browser = DashboardBrowser(client)
      let refused = try await browser.signIn(authorizer.key)
      #expect(refused.status == .forbidden)
      #expect(refused.text.contains("Authorizer keys cannot sign in"))
      #expect(browser.cookies[DashboardSecurity.sessionCookie] == nil)

      let unknown = try await browser.signIn("remit_" + String(repeating: "x", count: 43))
      #expect(unknown.status == .unauthorized)
      #expect(unknown.text.contains("That API key was not accepted"))
      #expect(browser.cookies[DashboardSecurity.sessionCookie] == nil)
      #expect(try await browser.get("/ui/agents").status == .seeOther)
    }
  }

  // On both stores: the session SQL runs on SQLite and PostgreSQL alike.
  @Test(arguments: TestBackend.all)
  func signingOutEndsTheSession(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    let store = fixture.store
    try await fixture.withDashboard { client in
      let browser = DashboardBrowser(client)
      _ = try await browser.signIn(fixture.adminKey)
      let stolen = try #require(browser.cookies[DashboardSecurity.sessionCookie])
      let csrf = try await browser.csrf(from: "/ui/agents")
      let signOut = try await browser.post("/ui/sign-out", [("csrf", csrf)])
      #expect(signOut.status == .seeOther)
      #expect(signOut.headers[.location] == "/ui/sign-in")
      #expect(browser.cookies[DashboardSecurity.sessionCookie] == nil)
      #expect(try await store.dashboardSessionCount(tenant: "default") == 0)
      // The old cookie is worth nothing now.
      let replay = try await client.executeRequest(
        uri: "/ui/agents", method: .get, headers: [.cookie: "\(DashboardSecurity.sessionCookie)=\(stolen)"], body: nil)
      #expect(replay.status == .seeOther)
    }
  }

  // On both stores: the session SQL runs on SQLite and PostgreSQL alike.
  @Test(arguments: TestBackend.all)
  func sessionsExpireWhenIdleAndAfterTheAbsoluteLifetime(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    let store = fixture.store
    let configuration = DashboardConfiguration(idleTimeout: 600, absoluteTimeout: 3600)
    let principal = try #require(try await store.authenticate(key: fixture.adminKey))

    let (idle, _) = try await store.createDashboardSession(for: principal, configuration: configuration, now: 10_000)
    #expect(try await store.dashboardSession(token: idle, configuration: configuration, now: 10_599) != nil)
    // That use moved the idle deadline.
    #expect(try await store.dashboardSession(token: idle, configuration: configuration, now: 11_100) != nil)
    #expect(try await store.dashboardSession(token: idle, configuration: configuration, now: 11_800) == nil)

    let (busy, _) = try await store.createDashboardSession(for: principal, configuration: configuration, now: 20_000)
    for minute in stride(from: 20_300, to: 23_600, by: 300) {
      #expect(try await store.dashboardSession(token: busy, configuration: configuration, now: Int64(minute)) != nil)
    }
    #expect(try await store.dashboardSession(token: busy, configuration: configuration, now: 23_600) == nil)
    try await store.close()
  }

  // On both stores: the session SQL runs on SQLite and PostgreSQL alike.
  @Test(arguments: TestBackend.all)
  func sessionsPerTenantAreBoundedAndTheLeastRecentlyUsedGoesFirst(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    let store = fixture.store
    let configuration = DashboardConfiguration(maximumSessionsPerTenant: 2)
    let principal = try #require(try await store.authenticate(key: fixture.adminKey))
    let (first, _) = try await store.createDashboardSession(for: principal, configuration: configuration, now: 1000)
    let (second, _) = try await store.createDashboardSession(for: principal, configuration: configuration, now: 1100)
    // Using the first makes the second the least recently used.
    #expect(try await store.dashboardSession(token: first, configuration: configuration, now: 1200) != nil)
    let (third, _) = try await store.createDashboardSession(for: principal, configuration: configuration, now: 1300)
    #expect(try await store.dashboardSessionCount(tenant: "default") == 2)
    #expect(try await store.dashboardSession(token: second, configuration: configuration, now: 1300) == nil)
    #expect(try await store.dashboardSession(token: first, configuration: configuration, now: 1300) != nil)
    #expect(try await store.dashboardSession(token: third, configuration: configuration, now: 1300) != nil)
    try await store.close()
  }

  // On both stores: the session SQL runs on SQLite and PostgreSQL alike.
  @Test(arguments: TestBackend.all)
  func removingTheAPIKeyEndsItsSessions(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    let store = fixture.store
    let reader = try await store.issueKey(tenant: "default", role: .reader)
    let principal = try #require(try await store.authenticate(key: reader.key))
    let configuration = DashboardConfiguration()
    let (token, _) = try await store.createDashboardSession(for: principal, configuration: configuration, now: 1000)
    #expect(try await store.dashboardSession(token: token, configuration: configuration, now: 1001) != nil)
    try await store.database.transaction { db in
      try await db.raw("DELETE FROM api_keys WHERE id = \(bind: reader.id)").run()
    }
    #expect(try await store.dashboardSession(token: token, configuration: configuration, now: 1002) == nil)
    try await store.close()
  }

  @Test func malformedSessionCookiesAreNotLookedUp() {
    #expect(!DashboardSession.isWellFormedToken(""))
    #expect(!DashboardSession.isWellFormedToken(String(repeating: "a", count: 42)))
    #expect(!DashboardSession.isWellFormedToken(String(repeating: "a", count: 42) + "'"))
    #expect(DashboardSession.isWellFormedToken(DashboardSession.newToken()))
    #expect(DashboardSession.newToken() != DashboardSession.newToken())
  }
}
