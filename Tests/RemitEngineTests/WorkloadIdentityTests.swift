import Testing

@testable import RemitEngine

@Suite struct WorkloadIdentityTests {
  @Test func parsesAWorkloadIdentity() throws {
    let identity = try WorkloadIdentity.parse("spiffe://cluster.local/ns/agents/sa/checkout-bot").get()
    #expect(identity.trustDomain == "cluster.local")
    #expect(identity.namespace == "agents")
    #expect(identity.serviceAccount == "checkout-bot")
    #expect(identity.workload == "agents/checkout-bot")
    #expect(identity.spiffeID == "spiffe://cluster.local/ns/agents/sa/checkout-bot")
  }

  @Test func acceptsDottedServiceAccountsAndTrustDomains() throws {
    let identity = try WorkloadIdentity.parse("spiffe://prod.example_org-1/ns/a1/sa/svc.v2").get()
    #expect(identity.trustDomain == "prod.example_org-1")
    #expect(identity.serviceAccount == "svc.v2")
  }

  @Test(arguments: [
    ("", WorkloadIdentity.ParseFailure.notSPIFFE),
    ("SPIFFE://cluster.local/ns/a/sa/b", .notSPIFFE),
    ("https://cluster.local/ns/a/sa/b", .notSPIFFE),
    ("spiffe://", .notSPIFFE),
    ("spiffe://Cluster.local/ns/a/sa/b", .badTrustDomain),
    ("spiffe://cluster.local:8080/ns/a/sa/b", .badTrustDomain),
    ("spiffe://user@cluster.local/ns/a/sa/b", .badTrustDomain),
    ("spiffe:///ns/a/sa/b", .badTrustDomain),
    ("spiffe://cluster.local/ns/a/sa/b?x=1", .badPath),
    ("spiffe://cluster.local/ns/a/sa/b#frag", .badPath),
    ("spiffe://cluster.local/ns/a/sa/%62", .badPath),
    ("spiffe://cluster.local/ns//sa/b", .badPath),
    ("spiffe://cluster.local/ns/./sa/b", .badPath),
    ("spiffe://cluster.local/ns/../sa/b", .badPath),
    ("spiffe://cluster.local/ns/a/sa/b/", .badPath),
    ("spiffe://cluster.local", .notWorkload),
    ("spiffe://cluster.local/ns/a", .notWorkload),
    ("spiffe://cluster.local/ns/a/sa/b/extra", .notWorkload),
    ("spiffe://cluster.local/namespace/a/sa/b", .notWorkload),
    ("spiffe://cluster.local/ns/A/sa/b", .badNamespace),
    ("spiffe://cluster.local/ns/-a/sa/b", .badNamespace),
    ("spiffe://cluster.local/ns/a/sa/B", .badServiceAccount),
    ("spiffe://cluster.local/ns/a/sa/b..c", .badServiceAccount),
  ])
  func rejects(_ text: String, _ expected: WorkloadIdentity.ParseFailure) {
    #expect(throws: expected) { try WorkloadIdentity.parse(text).get() }
  }

  @Test func rejectsOverlongIDs() {
    let long = "spiffe://cluster.local/ns/a/sa/" + String(repeating: "b", count: 2048)
    #expect(throws: WorkloadIdentity.ParseFailure.tooLong) { try WorkloadIdentity.parse(long).get() }
  }

  @Test func rejectsANamespaceOver63Characters() {
    let text = "spiffe://cluster.local/ns/\(String(repeating: "a", count: 64))/sa/b"
    #expect(throws: WorkloadIdentity.ParseFailure.badNamespace) { try WorkloadIdentity.parse(text).get() }
  }

  @Test func dnsRulesNameTheProblem() {
    #expect(DNSName.labelProblem("agents") == nil)
    #expect(DNSName.labelProblem("") == "must not be empty")
    #expect(DNSName.labelProblem(String(repeating: "a", count: 64))?.contains("63") == true)
    #expect(DNSName.labelProblem("Agents")?.contains("lower case") == true)
    #expect(DNSName.labelProblem("a_b")?.contains("lower case") == true)
    #expect(DNSName.labelProblem("a-")?.contains("start and end") == true)
    #expect(DNSName.labelProblem("a.b") != nil)
    #expect(DNSName.subdomainProblem("a.b-c.d") == nil)
    #expect(DNSName.subdomainProblem("a..b")?.contains("empty label") == true)
    #expect(DNSName.subdomainProblem(".a")?.contains("empty label") == true)
    #expect(DNSName.subdomainProblem(String(repeating: "a.", count: 127) + "a")?.contains("253") == true)
    #expect(DNSName.subdomainProblem("a.-b")?.contains("each dot-separated part") == true)
  }
}
