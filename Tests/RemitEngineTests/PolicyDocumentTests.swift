import Foundation
import Testing

@testable import RemitEngine

@Suite struct PolicyDocumentTests {
  func load(_ yaml: String) throws(PolicyError) -> PolicyDocument {
    try PolicyDocument.load(Array(yaml.utf8), format: .yaml)
  }

  func issues(_ yaml: String) -> [PolicyIssue] {
    do {
      _ = try load(yaml)
      return []
    } catch {
      return error.issues
    }
  }

  let header = "apiVersion: remit/v1\nkind: Policy\n"

  @Test func loadsTheFixture() throws {
    let document = try load(PolicyFixtures.basic)
    #expect(document.metadata?.version?.value == "7")
    #expect(document.agents?.count == 5)
    #expect(document.missions?.first?.allow?.first?.mcp?.tools == ["get_stock", "reserve_*"])
    #expect(document.settings?.truncatedBody == .deny)
  }

  @Test func yamlAndJSONGiveTheSameDocument() throws {
    let fromYAML = try load(PolicyFixtures.basic)
    let json = fromYAML.jsonBytes()
    #expect(PolicyDocument.Format.detect(fileName: nil, bytes: json) == .json)
    let fromJSON = try PolicyDocument.load(json, format: .json)
    #expect(fromJSON == fromYAML)
  }

  @Test func acceptsANumericVersion() throws {
    let document = try load(header + "metadata: {version: 42}\n")
    #expect(document.metadata?.version?.value == "42")
  }

  @Test func unknownFieldsAreErrorsWithTheirPath() {
    #expect(issues(header + "colour: blue\n") == [PolicyIssue(path: "colour", message: "unknown field")])
    let nested =
      header + """
        missions:
          - id: m
            allow:
              - to: tools/a
                mcp: {tools: [x], tool: [y]}
        """
    #expect(issues(nested) == [PolicyIssue(path: "missions[0].allow[0].mcp.tool", message: "unknown field")])
    let json = #"{"apiVersion":"remit/v1","kind":"Policy","settings":{"trustDomain":["x"]}}"#
    #expect(throws: PolicyError.self) { try PolicyDocument.load(Array(json.utf8), format: .json) }
  }

  @Test func typeAndEnumErrorsCarryPaths() {
    let badEnum = issues(header + "agents:\n  - {id: a, mode: audit}\n")
    #expect(badEnum.count == 1)
    #expect(badEnum.first?.path == "agents[0].mode")
    #expect(badEnum.first?.message.contains("expected one of: enforce, observe") == true)

    let missing = issues(header + "agents:\n  - {mission: m}\n")
    #expect(missing == [PolicyIssue(path: "agents[0].id", message: "required field is missing")])

    let wrongType = issues(header + "missions:\n  - {id: m, allow: yes}\n")
    #expect(wrongType.first?.path == "missions[0].allow")
  }

  @Test func rejectsTheWrongHeader() {
    #expect(
      issues("apiVersion: remit/v2\nkind: Policy\n") == [PolicyIssue(path: "apiVersion", message: "must be remit/v1")])
    #expect(issues("apiVersion: remit/v1\nkind: Policies\n") == [PolicyIssue(path: "kind", message: "must be Policy")])
  }

  @Test func meshIdentityRules() {
    let halfBound = issues(header + "agents:\n  - {id: a, meshIdentity: {namespace: agents}}\n")
    #expect(
      halfBound == [
        PolicyIssue(
          path: "agents[0].meshIdentity.serviceAccount",
          message: "is required when namespace is set (set both or neither)"
        )
      ]
    )
    let otherHalf = issues(header + "agents:\n  - {id: a, meshIdentity: {serviceAccount: bot}}\n")
    #expect(otherHalf.first?.path == "agents[0].meshIdentity.namespace")

    let badNamespace = issues(
      header + "agents:\n  - {id: a, meshIdentity: {namespace: Agents_1, serviceAccount: bot}}\n")
    #expect(badNamespace.first?.path == "agents[0].meshIdentity.namespace")
    #expect(badNamespace.first?.message.contains("DNS-1123") == true)

    let longNamespace = String(repeating: "n", count: 64)
    let tooLong = issues(
      header + "agents:\n  - {id: a, meshIdentity: {namespace: \(longNamespace), serviceAccount: bot}}\n")
    #expect(tooLong.first?.message.contains("63") == true)

    let badAccount = issues(
      header + "agents:\n  - {id: a, meshIdentity: {namespace: agents, serviceAccount: bot..x}}\n")
    #expect(badAccount.first?.path == "agents[0].meshIdentity.serviceAccount")

    let neither = issues(header + "agents:\n  - {id: a, meshIdentity: {}}\n")
    #expect(neither.isEmpty)
  }

  @Test func oneAgentPerIdentity() {
    let conflict = issues(
      header + """
        agents:
          - {id: a, meshIdentity: {namespace: agents, serviceAccount: bot}}
          - {id: b, meshIdentity: {namespace: agents, serviceAccount: bot}}
        """
    )
    #expect(conflict.count == 1)
    #expect(conflict.first?.path == "agents[1].meshIdentity")
    #expect(conflict.first?.message.contains("already bound to agent \"a\"") == true)
  }

  @Test func referencesAndUniqueness() {
    let found = issues(
      header + """
        agents:
          - {id: a, mission: nope}
          - {id: a}
          - {id: "-bad"}
        missions:
          - {id: m}
          - {id: m}
        """
    )
    #expect(
      found.contains(
        PolicyIssue(path: "agents[0].mission", message: "names mission \"nope\", which is not defined in missions")))
    #expect(found.contains { $0.path == "agents[1].id" && $0.message.contains("duplicates agents[0].id") })
    #expect(found.contains { $0.path == "agents[2].id" && $0.message.contains("start and end") })
    #expect(found.contains { $0.path == "missions[1].id" && $0.message.contains("duplicates") })
  }

  @Test func grantRules() {
    let found = issues(
      header + """
        missions:
          - id: m
            allow:
              - to: tools
              - to: tools/inventory
                http:
                  - {methods: [get], paths: ["api/x"]}
                  - {paths: ["/a/b**"]}
                  - {paths: []}
              - to: "Tools/*"
            egress: ["*.ok.example.com", "bad_host!", "10.0.0.1", "*"]
        """
    )
    let paths = Set(found.map(\.path))
    #expect(paths.contains("missions[0].allow[0].to"))
    #expect(paths.contains("missions[0].allow[1].http[0].methods[0]"))
    #expect(paths.contains("missions[0].allow[1].http[0].paths[0]"))
    #expect(paths.contains("missions[0].allow[1].http[1].paths[0]"))
    #expect(paths.contains("missions[0].allow[1].http[2].paths"))
    #expect(paths.contains("missions[0].allow[2].to"))
    #expect(paths.contains("missions[0].egress[1]"))
    #expect(paths.contains("missions[0].egress[3]"))
    #expect(!paths.contains("missions[0].egress[0]"))
    #expect(!paths.contains("missions[0].egress[2]"))
  }

  @Test func settingsRules() {
    let found = issues(
      header + """
        settings:
          trustDomains: [Cluster.Local]
          a2aNamespaces: [Agents]
          egressGateways: [istio-system]
          unmappedIdentity: maybe
        """
    )
    #expect(found.count == 1)  // Decoding stops at the first type error: the enum.
    #expect(found.first?.path == "settings.unmappedIdentity")

    let semantic = issues(
      header + """
        settings:
          trustDomains: [Cluster.Local]
          a2aNamespaces: [Agents]
          egressGateways: [istio-system]
        """
    )
    #expect(
      Set(semantic.map(\.path)) == [
        "settings.trustDomains[0]", "settings.a2aNamespaces[0]", "settings.egressGateways[0]",
      ])
  }

  @Test func delegationAndCredentialSectionsAreValidated() {
    let valid = issues(
      header + """
        settings:
          delegation: {header: x-chain, maxDepth: 3, escalation: narrow, ttlSeconds: 60}
        missions:
          - id: m
            delegation: {requireChain: true}
            credentials:
              - {to: tools/a, mint: {header: authorization, scheme: Bearer, ttlSeconds: 300}}
              - {to: "tools/*", secret: {name: payments-api-key, header: x-api-key}}
        """
    )
    #expect(valid.isEmpty)
    let found = issues(
      header + """
        settings:
          delegation: {header: X-Bad, maxDepth: 0, ttlSeconds: 0}
        missions:
          - id: m
            credentials:
              - {to: tools/a, mint: {ttlSeconds: 301}}
              - {to: tools/a, secret: {name: "bad name", header: host}}
              - {to: tools/b}
              - {to: tools/c, mint: {header: x-remit-delegation-chain-id}, secret: {name: s, header: x-s}}
              - {to: tools/d, mint: {header: x-envoy-original-path}}
        """
    )
    #expect(
      Set(found.map(\.path)) == [
        "settings.delegation.header", "settings.delegation.maxDepth", "settings.delegation.ttlSeconds",
        "missions[0].credentials[0].mint.ttlSeconds", "missions[0].credentials[1].to",
        "missions[0].credentials[1].secret.name", "missions[0].credentials[1].secret.header",
        "missions[0].credentials[2]", "missions[0].credentials[3]", "missions[0].credentials[4].mint.header",
      ])
  }

  @Test func contentSecuritySections() {
    let found = issues(
      header + """
        dlp:
          detectors: {credit_card: block, passport: block}
          custom:
            - {id: email, keywords: [x], pattern: "x", action: log}
            - {id: code, keywords: ["PRJ-"], pattern: "PRJ-[0-9]{6}", validator: luhn, action: block}
            - {id: code, keywords: ["PRJ-"], pattern: "PRJ", action: block}
        threatIntel:
          injection: block
          indicators:
            - {type: tool, value: "exfiltrate_*", severity: critical, source: feed-x}
        aibom:
          components:
            - {to: tools/inventory, tool: get_stock, publisher: acme, version: 1.2.0, risk: low}
            - {to: "Tools/x", publisher: ""}
        """
    )
    #expect(
      Set(found.map(\.path)) == [
        "dlp.detectors.passport", "dlp.custom[0].id", "dlp.custom[2].id", "aibom.components[1].to",
        "aibom.components[1].publisher",
      ])
    #expect(
      issues(header + "dlp: {custom: [{id: c, pattern: x, action: maybe}]}").first?.path == "dlp.custom[0].action")
    #expect(issues(header + "threatIntel: {injection: sometimes}").first?.path == "threatIntel.injection")
  }

  @Test func reportsAllIssuesAtOnce() {
    let found = issues(
      header + """
        agents:
          - {id: a, mission: x}
          - {id: b, meshIdentity: {namespace: "N"}}
        """
    )
    #expect(found.count >= 2)
  }

  @Test func rejectsGarbage() {
    #expect(throws: PolicyError.self) { try PolicyDocument.load(Array("{".utf8), format: .json) }
    #expect(throws: PolicyError.self) { try PolicyDocument.load(Array(": : :".utf8), format: .yaml) }
    #expect(throws: PolicyError.self) { try PolicyDocument.load([0xFF, 0xFE], format: .yaml) }
  }

  /// A kilobyte of nested aliases stands for a billion nodes; it is refused while composing,
  /// before any decoding walks it.
  @Test func aYAMLAliasBombIsRefusedNotExpanded() throws {
    var lines = [
      "apiVersion: remit/v1", "kind: Policy", "metadata: {name: bomb}", "x0: &a0 [l, l, l, l, l, l, l, l, l, l]",
    ]
    for level in 1..<9 {
      lines.append(
        "x\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]")
    }
    do {
      _ = try PolicyDocument.load(Array(lines.joined(separator: "\n").utf8), format: .yaml)
      Issue.record("an alias bomb was accepted")
    } catch {
      #expect(error.code == "policy_unreadable")
      #expect(error.issues.first?.message.contains("YAML nodes") == true)
    }
  }
}
