import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import RemitControlPlane

@Suite struct DashboardSecurityTests {
  static let agentForm: [(String, String)] = [
    ("id", "new-bot"), ("namespace", "agents"), ("serviceAccount", "new-bot"),
  ]

  @Test func aFormWithoutTheCSRFTokenOrWithAWrongOneIsRefused() async throws {
    let fixture = try await ControlPlaneFixture.make()
    let store = fixture.store
    try await fixture.withDashboard { client in
      let browser = DashboardBrowser(client)
      _ = try await browser.signIn(fixture.adminKey)
      let missing = try await browser.post("/ui/agents", Self.agentForm)
      #expect(missing.status == .forbidden)
      #expect(missing.text.contains("csrf_refused"))

      let csrf = try await browser.csrf(from: "/ui/agents/new")
      var wrong = csrf
      wrong.removeLast()
      wrong += csrf.hasSuffix("A") ? "B" : "A"
      #expect(try await browser.post("/ui/agents", [("csrf", wrong)] + Self.agentForm).status == .forbidden)
      #expect(try await browser.post("/ui/agents", [("csrf", "")] + Self.agentForm).status == .forbidden)
      #expect(try await store.agents(tenant: "default").isEmpty)

      // The same form with its token goes through.
      let accepted = try await browser.post("/ui/agents", [("csrf", csrf)] + Self.agentForm)
      #expect(accepted.status == .seeOther)
      #expect(try await store.agents(tenant: "default").map(\.id) == ["new-bot"])
    }
  }

  @Test func aFormFromAnotherOriginIsRefusedEvenWithTheToken() async throws {
    let fixture = try await ControlPlaneFixture.make()
    let store = fixture.store
    try await fixture.withDashboard { client in
      let browser = DashboardBrowser(client)
      _ = try await browser.signIn(fixture.adminKey)
      let csrf = try await browser.csrf(from: "/ui/agents/new")
      let foreign = try await browser.post(
        "/ui/agents", [("csrf", csrf)] + Self.agentForm, origin: "https://evil.example")
      #expect(foreign.status == .forbidden)
      let foreignReferer = try await browser.post(
        "/ui/agents", [("csrf", csrf)] + Self.agentForm, origin: nil,
        headers: [.referer: "http://evil.example/ui/agents/new"])
      #expect(foreignReferer.status == .forbidden)
      #expect(try await store.agents(tenant: "default").isEmpty)
      // `Origin: null` (a no-referrer page's form) leaves the decision to the token.
      let opaque = try await browser.post("/ui/agents", [("csrf", csrf)] + Self.agentForm, origin: "null")
      #expect(opaque.status == .seeOther)
    }
  }

  @Test func signInWithoutItsDoubleSubmitTokenIsRefused() async throws {
    let fixture = try await ControlPlaneFixture.make()
    try await fixture.withDashboard { client in
      let browser = DashboardBrowser(client)
      let noCookie = try await browser.post(
        "/ui/sign-in", [("csrf", DashboardSession.newToken()), ("key", fixture.adminKey)])
      #expect(noCookie.status == .forbidden)
      _ = try await browser.get("/ui/sign-in")
      let wrong = try await browser.post(
        "/ui/sign-in", [("csrf", DashboardSession.newToken()), ("key", fixture.adminKey)])
      #expect(wrong.status == .forbidden)
      #expect(browser.cookies[DashboardSecurity.sessionCookie] == nil)
    }
  }

  @Test func aReaderSeesEverythingButHasNoFormsAndCannotPost() async throws {
    let fixture = try await ControlPlaneFixture.make()
    let store = fixture.store
    _ = try await store.createMission(tenant: "default", .init(id: "checkout"))
    _ = try await store.createAgent(
      tenant: "default", .init(id: "bot", meshIdentity: .init(namespace: "agents", serviceAccount: "bot")))
    let reader = try await store.issueKey(tenant: "default", role: .reader)
    try await fixture.withDashboard { client in
      let browser = DashboardBrowser(client)
      #expect(try await browser.signIn(reader.key).status == .seeOther)
      let agents = try await browser.get("/ui/agents")
      #expect(agents.text.contains("agents/bot"))
      #expect(!agents.text.contains("Register Agent"))
      let agent = try await browser.get("/ui/agents/bot")
      #expect(agent.status == .ok)
      #expect(!agent.text.contains("/ui/agents/bot/edit"))
      #expect(!agent.text.contains("Delete agent"))
      let mission = try await browser.get("/ui/missions/checkout")
      #expect(mission.text.contains(#"<pre id="document">"#))
      #expect(!mission.text.contains("<textarea"))
      #expect(try await browser.get("/ui/agents/new").status == .forbidden)
      #expect(try await browser.get("/ui/agents/bot/edit").status == .forbidden)

      // The sign-out form's token is a valid token: the refusal is about the role.
      let csrf = try await browser.csrf(from: "/ui/agents")
      let create = try await browser.post("/ui/agents", [("csrf", csrf)] + Self.agentForm)
      #expect(create.status == .forbidden)
      #expect(create.text.contains("read_only"))
      #expect(try await browser.post("/ui/agents/bot/delete", [("csrf", csrf)]).status == .forbidden)
      #expect(try await browser.post("/ui/missions", [("csrf", csrf), ("document", "id: x")]).status == .forbidden)
      #expect(try await store.agents(tenant: "default").map(\.id) == ["bot"])
      #expect(try await store.missions(tenant: "default").map(\.id) == ["checkout"])
      // A reader may still sign out.
      #expect(try await browser.post("/ui/sign-out", [("csrf", csrf)]).status == .seeOther)
    }
  }

  @Test func everyPageIsScopedToTheSessionsTenant() async throws {
    let fixture = try await ControlPlaneFixture.make()
    let store = fixture.store
    let acme = try await store.createTenant("acme")
    _ = try await store.createMission(tenant: "acme", .init(id: "acme-mission", description: "acme only"))
    _ = try await store.createAgent(
      tenant: "acme",
      .init(id: "acme-bot", meshIdentity: .init(namespace: "acme", serviceAccount: "bot"), mission: "acme-mission"))
    try await fixture.withDashboard { client in
      let browser = DashboardBrowser(client)
      _ = try await browser.signIn(fixture.adminKey)
      #expect(!(try await browser.get("/ui/agents").text.contains("acme-bot")))
      #expect(!(try await browser.get("/ui/missions").text.contains("acme-mission")))
      #expect(try await browser.get("/ui/agents/acme-bot").status == .notFound)
      #expect(try await browser.get("/ui/missions/acme-mission").status == .notFound)
      let csrf = try await browser.csrf(from: "/ui/agents")
      #expect(try await browser.post("/ui/agents/acme-bot/delete", [("csrf", csrf)]).status == .notFound)
      #expect(
        try await browser.post("/ui/missions/acme-mission", [("csrf", csrf), ("document", "{}")]).status == .notFound)
      #expect(try await store.agents(tenant: "acme").map(\.id) == ["acme-bot"])
      // The same identity in another tenant is no conflict.
      let created = try await browser.post(
        "/ui/agents", [("csrf", csrf), ("id", "bot"), ("namespace", "acme"), ("serviceAccount", "bot")])
      #expect(created.status == .seeOther)

      let acmeBrowser = DashboardBrowser(client)
      _ = try await acmeBrowser.signIn(acme.key)
      let acmeAgents = try await acmeBrowser.get("/ui/agents").text
      #expect(acmeAgents.contains("acme-bot"))
      #expect(!acmeAgents.contains(#"data-agent="bot""#))
    }
  }

  @Test func userDataIsHTMLEscaped() async throws {
    let fixture = try await ControlPlaneFixture.make()
    let store = fixture.store
    let hostile = #"<script>alert("x")</script><img src=x onerror='y'>"#
    _ = try await store.createAgent(tenant: "default", .init(id: "bot", description: hostile))
    _ = try await store.createMission(tenant: "default", .init(id: "m", description: hostile))
    try await fixture.withDashboard { client in
      let browser = DashboardBrowser(client)
      _ = try await browser.signIn(fixture.adminKey)
      for path in ["/ui/agents/bot", "/ui/agents/bot/edit", "/ui/missions", "/ui/missions/m"] {
        let page = try await browser.get(path)
        #expect(page.status == .ok, "\(path)")
        #expect(!page.text.contains("<script"), "\(path)")
        #expect(!page.text.contains("<img"), "\(path)")
        #expect(page.text.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"), "\(path)")
      }
      // Form input echoed back on a validation error is escaped too.
      let csrf = try await browser.csrf(from: "/ui/agents/new")
      let echoed = try await browser.post(
        "/ui/agents", [("csrf", csrf), ("id", "\"><script>x</script>"), ("description", hostile)])
      #expect(echoed.status == .unprocessableContent)
      #expect(!echoed.text.contains("<script"))
      #expect(echoed.text.contains(#"value="&quot;&gt;&lt;script&gt;x&lt;/script&gt;""#))
    }
  }

  @Test func everyDashboardResponseCarriesTheSecurityHeaders() async throws {
    let fixture = try await ControlPlaneFixture.make()
    try await fixture.withDashboard { client in
      let browser = DashboardBrowser(client)
      var responses = [try await browser.get("/ui/sign-in"), try await browser.get("/ui/agents")]
      _ = try await browser.signIn(fixture.adminKey)
      responses += [
        try await browser.get("/ui/agents"), try await browser.get("/ui/agents/nobody"),
        try await browser.get("/ui/no/such/page"), try await browser.get("/ui/static/dashboard.css"),
        try await browser.post("/ui/agents", []),
      ]
      for response in responses {
        let csp = try #require(response.headers[.contentSecurityPolicy])
        #expect(csp.contains("default-src 'self'"))
        #expect(csp.contains("frame-ancestors 'none'"))
        #expect(!csp.contains("unsafe-inline"))
        #expect(response.headers[DashboardSecurity.xFrameOptions] == "DENY")
        #expect(response.headers[.xContentTypeOptions] == "nosniff")
        #expect(response.headers[DashboardSecurity.referrerPolicy] == "no-referrer")
        #expect(response.headers[.cacheControl] == "no-store")
      }
      #expect(responses[3].status == .notFound)
      #expect(responses[4].status == .notFound)
      #expect(responses[5].headers[.contentType] == "text/css; charset=utf-8")
    }
  }

  @Test func formBodiesAreBounded() async throws {
    let fixture = try await ControlPlaneFixture.make()
    try await fixture.withDashboard { client in
      let browser = DashboardBrowser(client)
      _ = try await browser.signIn(fixture.adminKey)
      let csrf = try await browser.csrf(from: "/ui/missions/new")
      let large = try await browser.post(
        "/ui/missions", [("csrf", csrf), ("document", String(repeating: "a", count: 70_000))])
      #expect(large.status == .contentTooLarge)
      let many = (0..<100).map { ("f\($0)", "x") }
      #expect(try await browser.post("/ui/missions", [("csrf", csrf)] + many).status == .badRequest)
    }
  }

  @Test func constantTimeComparisonComparesWholeStrings() {
    #expect(DashboardSession.constantTimeEqual("abc", "abc"))
    #expect(!DashboardSession.constantTimeEqual("abc", "abd"))
    #expect(!DashboardSession.constantTimeEqual("abc", "abcd"))
    #expect(!DashboardSession.constantTimeEqual("", "a"))
  }
}
