import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import RemitControlPlane

@Suite struct DashboardAuditTests {
  static func event(_ index: Int, agent: String, verdict: String, reason: String? = nil) -> AuditEvent {
    AuditEvent(
      decisionId: "d-\(agent)-\(index)", time: Date(timeIntervalSince1970: 1_800_000_000 + Double(index)),
      verdict: verdict, reason: reason, mode: "enforce", agent: agent, destination: "tools/inventory",
      kind: "east_west", method: "POST", path: "/mcp", tool: "get_stock", policyVersion: "3", latencyUs: 100)
  }

  @Test func decisionsAreListedNewestFirstFilteredAndPaged() async throws {
    let fixture = try await ControlPlaneFixture.make()
    let store = fixture.store
    var events = (0..<55).map { Self.event($0, agent: "checkout-bot", verdict: "allow") }
    events += (0..<3).map { Self.event(100 + $0, agent: "rogue", verdict: "deny", reason: "scope_tool_denied") }
    _ = try await store.appendAuditEvents(tenant: "default", authorizer: "authz-1", events)
    try await fixture.withDashboard { client in
      let browser = DashboardBrowser(client)
      _ = try await browser.signIn(fixture.adminKey)
      let first = try await browser.get("/ui/decisions")
      #expect(first.status == .ok)
      #expect(first.text.components(separatedBy: "<tr data-decision=").count - 1 == 50)
      #expect(first.text.contains(#"<tr data-decision="d-rogue-102">"#))
      #expect(first.text.contains("<td>authz-1</td>"))
      let newest = try #require(first.text.range(of: "d-rogue-102"))
      let older = try #require(first.text.range(of: "d-checkout-bot-54"))
      #expect(newest.lowerBound < older.lowerBound)

      let next = try #require(
        first.text.range(of: #"id="next-page" href="([^"]+)""#, options: .regularExpression).map {
          String(first.text[$0].dropFirst(#"id="next-page" href=""#.count).dropLast())
        })
      let second = try await browser.get(next.replacingOccurrences(of: "&amp;", with: "&"))
      #expect(second.text.components(separatedBy: "<tr data-decision=").count - 1 == 8)
      #expect(!second.text.contains(#"id="next-page""#))

      let filtered = try await browser.get("/ui/decisions?agent=rogue&verdict=deny&reason=scope_tool_denied")
      #expect(filtered.text.components(separatedBy: "<tr data-decision=").count - 1 == 3)
      #expect(filtered.text.contains(#"<input type="text" id="agent" name="agent" value="rogue""#))
      #expect(filtered.text.contains(#"<option value="deny" selected>deny</option>"#))
      let none = try await browser.get("/ui/decisions?agent=rogue&verdict=allow")
      #expect(none.text.contains("No decisions match."))
    }
  }

  @Test func aBadCursorIsShownOnThePage() async throws {
    let fixture = try await ControlPlaneFixture.make()
    try await fixture.withDashboard { client in
      let browser = DashboardBrowser(client)
      _ = try await browser.signIn(fixture.adminKey)
      let page = try await browser.get("/ui/decisions?cursor=nonsense")
      #expect(page.status == .unprocessableContent)
      #expect(page.text.contains(#"id="filter-error">cursor: "#))
    }
  }

  @Test func decisionsAndAuthorizersOfAnotherTenantAreNotShown() async throws {
    let fixture = try await ControlPlaneFixture.make()
    let store = fixture.store
    _ = try await store.createTenant("acme")
    _ = try await store.appendAuditEvents(
      tenant: "acme", authorizer: "acme-authz", [Self.event(1, agent: "acme-bot", verdict: "deny")])
    _ = try await store.reportAuthorizer(
      tenant: "acme", id: "acme-authz", report: .init(policyVersion: "1", lastSync: Date(), remitVersion: "0.1.0"))
    try await fixture.withDashboard { client in
      let browser = DashboardBrowser(client)
      _ = try await browser.signIn(fixture.adminKey)
      let decisions = try await browser.get("/ui/decisions")
      #expect(!decisions.text.contains("acme-bot"))
      #expect(decisions.text.contains("No decisions match."))
      let authorizers = try await browser.get("/ui/authorizers")
      #expect(!authorizers.text.contains("acme-authz"))
      #expect(authorizers.text.contains("No authorizer has registered yet."))
    }
  }

  @Test func authorizersShowVersionSyncAndStatus() async throws {
    let fixture = try await ControlPlaneFixture.make()
    let store = fixture.store
    let current = try await store.policyVersion(tenant: "default")
    _ = try await store.reportAuthorizer(
      tenant: "default", id: "authz-current",
      report: .init(policyVersion: String(current), lastSync: Date(), remitVersion: "0.1.0"))
    _ = try await store.reportAuthorizer(
      tenant: "default", id: "authz-old", report: .init(policyVersion: "0", lastSync: nil, remitVersion: "0.1.0"))
    let reader = try await store.issueKey(tenant: "default", role: .reader)
    try await fixture.withDashboard { client in
      let browser = DashboardBrowser(client)
      _ = try await browser.signIn(reader.key)
      let page = try await browser.get("/ui/authorizers")
      #expect(page.status == .ok)
      #expect(page.text.contains(#"<tr data-authorizer="authz-current">"#))
      #expect(page.text.contains(#"<span class="status status-healthy">healthy</span>"#))
      #expect(page.text.contains(#"<span class="status status-behind">behind</span>"#))
      #expect(page.text.contains("<td>never</td>"))
    }
  }
}
