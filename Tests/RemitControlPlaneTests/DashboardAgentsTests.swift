import Foundation
import Hummingbird
import HummingbirdTesting
import RemitEngine
import Testing

@testable import RemitControlPlane

@Suite struct DashboardAgentsTests {
  @Test func registeringAnAgentWithAMeshIdentityListsItAsNamespaceSlashServiceAccount() async throws {
    let fixture = try await ControlPlaneFixture.make()
    let store = fixture.store
    _ = try await store.createMission(tenant: "default", .init(id: "checkout"))
    try await fixture.withDashboard { client in
      let browser = DashboardBrowser(client)
      _ = try await browser.signIn(fixture.adminKey)
      let form = try await browser.get("/ui/agents/new")
      #expect(form.text.contains("<legend>Mesh Identity</legend>"))
      #expect(form.text.contains(#"<option value="checkout">checkout</option>"#))
      let csrf = try #require(DashboardBrowser.csrf(in: form.text))
      let created = try await browser.post(
        "/ui/agents",
        [
          ("csrf", csrf), ("id", "checkout-bot"), ("description", "Takes payment"), ("mission", "checkout"),
          ("mode", "observe"), ("namespace", "agents"), ("serviceAccount", "checkout-bot"),
        ])
      #expect(created.status == .seeOther)
      #expect(created.headers[.location] == "/ui/agents/checkout-bot?notice=created")
      #expect(
        try await store.agent(tenant: "default", id: "checkout-bot")
          == .init(
            id: "checkout-bot", description: "Takes payment",
            meshIdentity: .init(namespace: "agents", serviceAccount: "checkout-bot"), mission: "checkout",
            mode: .observe))
      let detail = try await browser.get("/ui/agents/checkout-bot?notice=created")
      #expect(detail.text.contains(#"<p class="notice" role="status">Created.</p>"#))

      let list = try await browser.get("/ui/agents")
      #expect(list.text.contains("<code>agents/checkout-bot</code>"))
    }
  }

  @Test func anAgentWithoutIdentityIsShownAsNotMeshBound() async throws {
    let fixture = try await ControlPlaneFixture.make()
    _ = try await fixture.store.createAgent(tenant: "default", .init(id: "loose"))
    try await fixture.withDashboard { client in
      let browser = DashboardBrowser(client)
      _ = try await browser.signIn(fixture.adminKey)
      let list = try await browser.get("/ui/agents")
      #expect(list.text.contains(#"<td class="identity"><span class="muted">Not mesh-bound</span></td>"#))
      #expect(try await browser.get("/ui/agents/loose").text.contains("Not mesh-bound"))
    }
  }

  /// The form shows, beside each field, exactly the message `POST /v1/agents` gives for the same input.
  @Test(arguments: [
    (namespace: "agents", serviceAccount: "", field: "serviceAccount"),
    (namespace: "", serviceAccount: "bot", field: "namespace"),
    (namespace: "Bad_NS", serviceAccount: "bot", field: "namespace"),
    (namespace: "agents", serviceAccount: "Bad..SA", field: "serviceAccount"),
  ])
  func identityMessagesAreTheAPIsMessages(namespace: String, serviceAccount: String, field: String) async throws {
    let fixture = try await ControlPlaneFixture.make()
    let store = fixture.store
    try await fixture.withDashboard { client in
      let api = try await client.send(
        .post, "/v1/agents", key: fixture.adminKey,
        json: try agentJSON(
          "bot", namespace: namespace.isEmpty ? nil : namespace,
          serviceAccount: serviceAccount.isEmpty ? nil : serviceAccount))
      #expect(api.status == .unprocessableContent)
      let problem = try #require(api.errorBody?.errors?.first)
      #expect(problem.field == "meshIdentity.\(field)")

      let browser = DashboardBrowser(client)
      _ = try await browser.signIn(fixture.adminKey)
      let csrf = try await browser.csrf(from: "/ui/agents/new")
      let page = try await browser.post(
        "/ui/agents", [("csrf", csrf), ("id", "bot"), ("namespace", namespace), ("serviceAccount", serviceAccount)])
      #expect(page.status == .unprocessableContent)
      let escaped = problem.message.replacingOccurrences(of: "'", with: "&#39;")
      #expect(page.text.contains(#"<p class="field-error" id="\#(field)-error">\#(escaped)</p>"#))
      // What was typed stays in the form.
      #expect(page.text.contains(#"id="namespace" name="namespace" value="\#(namespace)""#))
      #expect(try await store.agents(tenant: "default").isEmpty)
    }
  }

  @Test func anIdentityBoundToAnotherAgentIsAConflictShownOnTheForm() async throws {
    let fixture = try await ControlPlaneFixture.make()
    let store = fixture.store
    _ = try await store.createAgent(
      tenant: "default", .init(id: "holder", meshIdentity: .init(namespace: "agents", serviceAccount: "bot")))
    try await fixture.withDashboard { client in
      let browser = DashboardBrowser(client)
      _ = try await browser.signIn(fixture.adminKey)
      let csrf = try await browser.csrf(from: "/ui/agents/new")
      let page = try await browser.post(
        "/ui/agents", [("csrf", csrf), ("id", "thief"), ("namespace", "agents"), ("serviceAccount", "bot")])
      #expect(page.status == .conflict)
      #expect(page.text.contains(#"<p class="field-error" id="identity-error">is already bound to agent holder</p>"#))
      #expect(page.text.contains("agents/bot is already bound to agent holder; one agent per identity"))
    }
  }

  @Test func editingAnAgentReplacesItAndDeletingRemovesIt() async throws {
    let fixture = try await ControlPlaneFixture.make()
    let store = fixture.store
    _ = try await store.createAgent(
      tenant: "default",
      .init(id: "bot", description: "old", meshIdentity: .init(namespace: "agents", serviceAccount: "bot")))
    try await fixture.withDashboard { client in
      let browser = DashboardBrowser(client)
      _ = try await browser.signIn(fixture.adminKey)
      let edit = try await browser.get("/ui/agents/bot/edit")
      #expect(edit.text.contains(#"value="agents""#))
      #expect(edit.text.contains(">old</textarea>"))
      let csrf = try #require(DashboardBrowser.csrf(in: edit.text))
      let invalid = try await browser.post(
        "/ui/agents/bot", [("csrf", csrf), ("namespace", "agents"), ("serviceAccount", "")])
      #expect(invalid.status == .unprocessableContent)
      #expect(invalid.text.contains(#"id="serviceAccount-error""#))

      let saved = try await browser.post(
        "/ui/agents/bot", [("csrf", csrf), ("description", "new"), ("namespace", ""), ("serviceAccount", "")])
      #expect(saved.status == .seeOther)
      #expect(saved.headers[.location] == "/ui/agents/bot?notice=saved")
      #expect(try await store.agent(tenant: "default", id: "bot") == .init(id: "bot", description: "new"))

      let deleted = try await browser.post("/ui/agents/bot/delete", [("csrf", csrf)])
      #expect(deleted.headers[.location] == "/ui/agents?notice=deleted")
      #expect(try await store.agents(tenant: "default").isEmpty)
      #expect(try await browser.get("/ui/agents/bot").status == .notFound)
    }
  }
}
