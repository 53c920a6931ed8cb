import Foundation
import Hummingbird
import HummingbirdTesting
import RemitEngine
import Testing

@testable import RemitControlPlane

@Suite struct DashboardChainsAndSecretsTests {
  @Test func theChainsPagesShowTheTreeAndTheChainsDecisions() async throws {
    let fixture = try await ControlPlaneFixture.make()
    let store = fixture.store
    for (caller, callee) in [("planner", "researcher"), ("researcher", "browser"), ("planner", "writer")] {
      _ = try await store.recordHop(
        tenant: "default", .init(chainId: "txn-1", caller: caller, callee: callee, maxDepth: 4, ttlSeconds: 600))
    }
    _ = try await store.recordHop(
      tenant: "default", .init(chainId: "txn-2", caller: "solo", callee: nil, maxDepth: 4, ttlSeconds: 600))
    var inChain = DashboardAuditTests.event(1, agent: "browser", verdict: "deny", reason: "delegation_cycle")
    inChain.chainId = "txn-1"
    let outside = DashboardAuditTests.event(2, agent: "other", verdict: "allow")
    _ = try await store.appendAuditEvents(tenant: "default", authorizer: "authz-1", [inChain, outside])
    let reader = try await store.issueKey(tenant: "default", role: .reader)
    try await fixture.withDashboard { client in
      let browser = DashboardBrowser(client)
      _ = try await browser.signIn(reader.key)
      let list = try await browser.get("/ui/chains")
      #expect(list.status == .ok)
      #expect(
        list.text.contains(#"<a href="/ui/chains">Chains</a>"#)
          || list.text.contains(#"href="/ui/chains" aria-current="page">Chains"#))
      #expect(list.text.contains(#"<tr data-chain="txn-1">"#))
      #expect(list.text.contains(#"<tr data-chain="txn-2">"#))
      #expect(list.text.contains(#"<a href="/ui/chains/txn-1">"#))

      let page = try await browser.get("/ui/chains/txn-1")
      #expect(page.status == .ok)
      // Nested lists, root first, each member with its depth.
      let tree =
        page.text.components(separatedBy: #"<ul class="tree" id="chain-tree">"#).last?
        .components(separatedBy: "<h2>Decisions</h2>").first ?? ""
      let order = ["planner", "researcher", "browser", "writer"].compactMap { tree.range(of: #"data-member="\#($0)""#) }
      #expect(order.count == 4)
      #expect(zip(order, order.dropFirst()).allSatisfy { $0.lowerBound < $1.lowerBound })
      #expect(tree.contains(#"<li data-member="planner" data-depth="0">"#))
      #expect(
        tree.contains(
          #"<li data-member="browser" data-depth="2"><code>browser</code> <span class="muted">depth 2</span>"#))
      // browser is nested inside researcher's list, writer is not.
      let researcher = tree.components(separatedBy: #"data-member="researcher""#).last ?? ""
      let researcherSubtree = researcher.components(separatedBy: "</ul></li>").first ?? ""
      #expect(researcherSubtree.contains(#"data-member="browser""#))
      #expect(!researcherSubtree.contains(#"data-member="writer""#))
      #expect(page.text.contains(#"<tr data-decision="d-browser-1">"#))
      #expect(!page.text.contains("d-other-2"))

      #expect(try await browser.get("/ui/chains/unknown").status == .notFound)
      // Readers get no Secrets link and no Secrets page.
      #expect(!list.text.contains(#"href="/ui/secrets""#))
      #expect(try await browser.get("/ui/secrets").status == .forbidden)
    }
  }

  @Test func secretsAreSetWriteOnlyAndDeletedFromTheDashboard() async throws {
    let fixture = try await ControlPlaneFixture.make(options: .init(secretsKey: .generate()))
    let store = fixture.store
    let value = "sk_live_dashboard-do-not-show"
    try await fixture.withDashboard { client in
      let browser = DashboardBrowser(client)
      _ = try await browser.signIn(fixture.adminKey)
      let empty = try await browser.get("/ui/secrets")
      #expect(empty.status == .ok)
      #expect(empty.text.contains(#"href="/ui/secrets" aria-current="page">Secrets</a>"#))
      #expect(empty.text.contains("No secrets yet."))
      let csrf = try #require(DashboardBrowser.csrf(in: empty.text))

      // CSRF like every other form.
      #expect(try await browser.post("/ui/secrets", [("name", "api"), ("value", value)]).status == .forbidden)
      #expect(
        try await browser.post(
          "/ui/secrets", [("csrf", csrf), ("name", "api"), ("value", value)], origin: "http://evil"
        )
        .status == .forbidden)
      #expect(try await store.secrets(tenant: "default").isEmpty)

      let saved = try await browser.post("/ui/secrets", [("csrf", csrf), ("name", "api"), ("value", value)])
      #expect(saved.status == .seeOther)
      #expect(try await store.secretValue(tenant: "default", name: "api") == value)
      let listed = try await browser.get("/ui/secrets?notice=saved")
      #expect(listed.text.contains(#"<tr data-secret="api">"#))
      #expect(!listed.text.contains(value))

      let refused = try await browser.post("/ui/secrets", [("csrf", csrf), ("name", "bad name"), ("value", value)])
      #expect(refused.status == .unprocessableContent)
      #expect(refused.text.contains(#"id="secret-error">name: "#))
      #expect(!refused.text.contains(value))

      #expect(try await browser.post("/ui/secrets/api/delete", [("csrf", csrf)]).status == .seeOther)
      #expect(try await store.secrets(tenant: "default").isEmpty)
    }
  }

  @Test func withoutASecretsKeyTheSecretsPageSaysSo() async throws {
    let fixture = try await ControlPlaneFixture.make()
    try await fixture.withDashboard { client in
      let browser = DashboardBrowser(client)
      _ = try await browser.signIn(fixture.adminKey)
      let page = try await browser.get("/ui/secrets")
      #expect(page.text.contains(#"id="secrets-disabled""#))
      let csrf = try #require(DashboardBrowser.csrf(in: page.text))
      let refused = try await browser.post("/ui/secrets", [("csrf", csrf), ("name", "api"), ("value", "v")])
      #expect(refused.status == .serviceUnavailable)
      #expect(refused.text.contains("--secrets-key-file"))
    }
  }

  /// Another tenant's admin session sees none of acme's chains or secrets, and its forms change
  /// only its own tenant's secrets, even under acme's names.
  @Test func anotherTenantsSessionSeesAndChangesNoneOfAcmesChainsAndSecrets() async throws {
    let fixture = try await ControlPlaneFixture.make(options: .init(secretsKey: .generate()))
    let store = fixture.store
    _ = try await store.createTenant("acme")
    _ = try await store.recordHop(
      tenant: "acme",
      .init(chainId: "acme-chain", caller: "acme-planner", callee: "acme-worker", maxDepth: 4, ttlSeconds: 600))
    try await store.putSecret(tenant: "acme", name: "acme-secret", value: "acme-value-1")
    try await fixture.withDashboard { client in
      let browser = DashboardBrowser(client)
      _ = try await browser.signIn(fixture.adminKey)
      let chains = try await browser.get("/ui/chains")
      #expect(chains.status == .ok)
      let chain = try await browser.get("/ui/chains/acme-chain")
      #expect(chain.status == .notFound)
      let secrets = try await browser.get("/ui/secrets")
      #expect(secrets.status == .ok)
      for page in [chains, chain, secrets] {
        for marker in ["acme-planner", "acme-worker", "acme-secret", "acme-value-1"] {
          #expect(!page.text.contains(marker), "\(marker) shown to tenant default")
        }
      }
      #expect(!chains.text.contains("acme-chain"))
      let csrf = try #require(DashboardBrowser.csrf(in: secrets.text))
      #expect(try await browser.post("/ui/secrets/acme-secret/delete", [("csrf", csrf)]).status == .notFound)
      let saved = try await browser.post(
        "/ui/secrets", [("csrf", csrf), ("name", "acme-secret"), ("value", "default-value")])
      #expect(saved.status == .seeOther)
      #expect(try await browser.post("/ui/secrets/acme-secret/delete", [("csrf", csrf)]).status == .seeOther)
      #expect(try await store.secretValue(tenant: "acme", name: "acme-secret") == "acme-value-1")
      #expect(try await store.secrets(tenant: "acme").count == 1)
      #expect(try await store.secrets(tenant: "default").isEmpty)
      #expect(try await store.delegationChain(tenant: "acme", id: "acme-chain").members.count == 2)
    }
  }
}
