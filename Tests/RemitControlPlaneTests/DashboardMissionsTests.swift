import Foundation
import Hummingbird
import HummingbirdTesting
import RemitEngine
import Testing

@testable import RemitControlPlane

@Suite struct DashboardMissionsTests {
  @Test func aMissionCreatedAsYAMLOrJSONIsStoredAndShownAsYAML() async throws {
    let fixture = try await ControlPlaneFixture.make()
    let store = fixture.store
    try await fixture.withDashboard { client in
      let browser = DashboardBrowser(client)
      _ = try await browser.signIn(fixture.adminKey)
      let csrf = try await browser.csrf(from: "/ui/missions/new")
      let yaml = """
        id: checkout
        description: Take payment
        allow:
          - to: tools/inventory
            mcp: {tools: [get_stock, "reserve_*"]}
        egress: [api.stripe.com]
        """
      let created = try await browser.post("/ui/missions", [("csrf", csrf), ("document", yaml)])
      #expect(created.status == .seeOther)
      #expect(created.headers[.location] == "/ui/missions/checkout?notice=created")
      let stored = try await store.mission(tenant: "default", id: "checkout")
      #expect(stored.allow?.first?.mcp?.tools == ["get_stock", "reserve_*"])
      #expect(stored.egress == ["api.stripe.com"])

      let json = #"{"id": "audit", "allow": [{"to": "tools/*"}]}"#
      #expect(try await browser.post("/ui/missions", [("csrf", csrf), ("document", json)]).status == .seeOther)
      #expect(try await store.mission(tenant: "default", id: "audit").allow?.first?.to == "tools/*")

      let page = try await browser.get("/ui/missions/checkout")
      #expect(page.text.contains("to: tools/inventory"))
      let list = try await browser.get("/ui/missions")
      #expect(list.text.contains(#"<a href="/ui/missions/checkout">checkout</a>"#))
    }
  }

  @Test func editErrorsAreShownInPlaceWithTheirFieldAndTheTextIsKept() async throws {
    let fixture = try await ControlPlaneFixture.make()
    let store = fixture.store
    _ = try await store.createMission(tenant: "default", .init(id: "checkout", allow: [.init(to: "tools/inventory")]))
    try await fixture.withDashboard { client in
      let browser = DashboardBrowser(client)
      _ = try await browser.signIn(fixture.adminKey)
      let csrf = try await browser.csrf(from: "/ui/missions/checkout")
      let bad = "allow:\n  - to: Not A Workload\n"
      let page = try await browser.post("/ui/missions/checkout", [("csrf", csrf), ("document", bad)])
      #expect(page.status == .unprocessableContent)
      #expect(page.text.contains("<code>allow[0].to</code>: "))
      #expect(page.text.contains(">allow:\n  - to: Not A Workload\n</textarea>"))
      #expect(try await store.mission(tenant: "default", id: "checkout").allow?.first?.to == "tools/inventory")

      let unknown = try await browser.post("/ui/missions/checkout", [("csrf", csrf), ("document", "allowed: []")])
      #expect(unknown.status == .unprocessableContent)
      #expect(unknown.text.contains("<code>allowed</code>: unknown field"))

      let otherID = try await browser.post("/ui/missions/checkout", [("csrf", csrf), ("document", "id: other")])
      #expect(otherID.text.contains("<code>id</code>: must match the id in the URL"))

      let unreadable = try await browser.post("/ui/missions/checkout", [("csrf", csrf), ("document", "allow: [")])
      #expect(unreadable.status == .unprocessableContent)
      #expect(unreadable.text.contains("is not a readable YAML document"))

      let saved = try await browser.post(
        "/ui/missions/checkout", [("csrf", csrf), ("document", "description: Pay\nallow:\n  - to: tools/payments\n")])
      #expect(saved.status == .seeOther)
      #expect(
        try await store.mission(tenant: "default", id: "checkout")
          == .init(
            id: "checkout", description: "Pay", allow: [.init(to: "tools/payments")]))
    }
  }

  @Test func aMissionInUseIsNotDeletedAndTheReasonIsShown() async throws {
    let fixture = try await ControlPlaneFixture.make()
    let store = fixture.store
    _ = try await store.createMission(tenant: "default", .init(id: "checkout"))
    _ = try await store.createAgent(tenant: "default", .init(id: "bot", mission: "checkout"))
    _ = try await store.createMission(tenant: "default", .init(id: "unused"))
    try await fixture.withDashboard { client in
      let browser = DashboardBrowser(client)
      _ = try await browser.signIn(fixture.adminKey)
      let csrf = try await browser.csrf(from: "/ui/missions")
      let refused = try await browser.post("/ui/missions/checkout/delete", [("csrf", csrf)])
      #expect(refused.status == .unprocessableContent)
      #expect(refused.text.contains("The mission was not deleted."))
      #expect(refused.text.contains("<code>agents[0].mission</code>"))
      #expect(try await browser.post("/ui/missions/unused/delete", [("csrf", csrf)]).status == .seeOther)
      #expect(try await store.missions(tenant: "default").map(\.id) == ["checkout"])
    }
  }

  @Test func yamlAliasesCannotBlowUpTheDocument() throws {
    var lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in 1..<8 {
      let previous = "*a\(level - 1)"
      lines.append("a\(level): &a\(level) [\(Array(repeating: previous, count: 10).joined(separator: ", "))]")
    }
    lines.append("id: bomb")
    #expect(throws: ControlPlaneError.self) {
      _ = try DashboardMissionText.mission(lines.joined(separator: "\n"), pathID: nil)
    }
    do {
      _ = try DashboardMissionText.mission(lines.joined(separator: "\n"), pathID: nil)
    } catch let error as ControlPlaneError {
      #expect(error.problems.first?.message.contains("too large") == true)
    }
  }
}
