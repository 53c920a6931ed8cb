import Foundation
import Hummingbird
import HummingbirdTesting
import RemitEngine
import Testing

@testable import RemitControlPlane

/// Every mesh identity and agent rule, through the API, with the policy validator's own messages.
@Suite struct AgentValidationTests {
  static let label63 = String(repeating: "a", count: 63)
  static let subdomain253 = [label63, label63, label63, String(repeating: "b", count: 61)].joined(separator: ".")

  struct Case: Sendable, CustomTestStringConvertible {
    var name: String
    var namespace: String?
    var serviceAccount: String?
    var field: String
    /// The validator's message for the same value: the API must say exactly the same.
    var expected: String
    var testDescription: String { name }
  }

  static let rejected: [Case] = [
    Case(
      name: "namespace upper case", namespace: "Agents", serviceAccount: "bot", field: "meshIdentity.namespace",
      expected: DNSName.labelProblem("Agents") ?? ""),
    Case(
      name: "namespace leading dash", namespace: "-agents", serviceAccount: "bot", field: "meshIdentity.namespace",
      expected: DNSName.labelProblem("-agents") ?? ""),
    Case(
      name: "namespace trailing dash", namespace: "agents-", serviceAccount: "bot", field: "meshIdentity.namespace",
      expected: DNSName.labelProblem("agents-") ?? ""),
    Case(
      name: "namespace with a dot (a label, not a subdomain)", namespace: "a.b", serviceAccount: "bot",
      field: "meshIdentity.namespace", expected: DNSName.labelProblem("a.b") ?? ""),
    Case(
      name: "namespace underscore", namespace: "my_ns", serviceAccount: "bot", field: "meshIdentity.namespace",
      expected: DNSName.labelProblem("my_ns") ?? ""),
    Case(
      name: "namespace 64 characters", namespace: label63 + "a", serviceAccount: "bot",
      field: "meshIdentity.namespace", expected: "must be at most 63 characters (DNS-1123 label)"),
    Case(
      name: "service account upper case", namespace: "agents", serviceAccount: "Bot",
      field: "meshIdentity.serviceAccount", expected: DNSName.subdomainProblem("Bot") ?? ""),
    Case(
      name: "service account double dot", namespace: "agents", serviceAccount: "a..b",
      field: "meshIdentity.serviceAccount", expected: DNSName.subdomainProblem("a..b") ?? ""),
    Case(
      name: "service account leading dot", namespace: "agents", serviceAccount: ".bot",
      field: "meshIdentity.serviceAccount", expected: DNSName.subdomainProblem(".bot") ?? ""),
    Case(
      name: "service account label ends with dash", namespace: "agents", serviceAccount: "bot-.x",
      field: "meshIdentity.serviceAccount", expected: DNSName.subdomainProblem("bot-.x") ?? ""),
    Case(
      name: "service account 254 characters", namespace: "agents", serviceAccount: subdomain253 + "b",
      field: "meshIdentity.serviceAccount", expected: "must be at most 253 characters (DNS-1123 subdomain)"),
    Case(
      name: "namespace without service account", namespace: "agents", serviceAccount: nil,
      field: "meshIdentity.serviceAccount", expected: "is required when namespace is set (set both or neither)"),
    Case(
      name: "service account without namespace", namespace: nil, serviceAccount: "bot",
      field: "meshIdentity.namespace", expected: "is required when serviceAccount is set (set both or neither)"),
    Case(
      name: "namespace with an empty service account", namespace: "agents", serviceAccount: "",
      field: "meshIdentity.serviceAccount", expected: "is required when namespace is set (set both or neither)"),
  ]

  @Test(arguments: TestBackend.all, rejected)
  func rejectedBindingIs422WithTheFieldAndTheValidatorsMessage(_ backend: TestBackend, _ testCase: Case) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    // The policy file loader says the same thing about the same agent.
    let document = PolicyDocument(agents: [
      .init(id: "bot", meshIdentity: .init(namespace: testCase.namespace, serviceAccount: testCase.serviceAccount))
    ])
    var validatorIssues: [PolicyIssue] = []
    do { try document.validate() } catch { validatorIssues = error.issues }
    #expect(validatorIssues.contains(PolicyIssue(path: "agents[0].\(testCase.field)", message: testCase.expected)))

    try await fixture.withAPI { client in
      let body = try agentJSON("bot", namespace: testCase.namespace, serviceAccount: testCase.serviceAccount)
      let response = try await client.send(.post, "/v1/agents", key: fixture.adminKey, json: body)
      #expect(response.status == .unprocessableContent)
      let error = try #require(response.errorBody)
      #expect(error.error.code == "validation_failed")
      #expect(error.error.field == testCase.field)
      #expect(error.errors?.contains { $0.field == testCase.field && $0.message == testCase.expected } == true)
      let list = try await client.send(.get, "/v1/agents", key: fixture.adminKey)
      #expect(list.text == "[]")
    }
  }

  @Test(arguments: TestBackend.all) func longestValidNamesAndUnboundAgentsAreAccepted(_ backend: TestBackend)
    async throws
  {
    let fixture = try await ControlPlaneFixture.make(backend)
    try await fixture.withAPI { client in
      let longest = try agentJSON("long", namespace: Self.label63, serviceAccount: Self.subdomain253)
      let created = try await client.send(.post, "/v1/agents", key: fixture.adminKey, json: longest)
      #expect(created.status == .created)
      let agent = try created.decoded(PolicyDocument.Agent.self)
      #expect(agent.meshIdentity == .init(namespace: Self.label63, serviceAccount: Self.subdomain253))

      let unbound = try await client.send(.post, "/v1/agents", key: fixture.adminKey, json: #"{"id": "solo"}"#)
      #expect(unbound.status == .created)
      #expect(try unbound.decoded(PolicyDocument.Agent.self).meshIdentity == nil)

      // Two empty strings mean neither: "Not mesh-bound".
      let empty = try await client.send(
        .post, "/v1/agents", key: fixture.adminKey,
        json: #"{"id": "blank", "meshIdentity": {"namespace": "", "serviceAccount": ""}}"#)
      #expect(empty.status == .created)
      #expect(try empty.decoded(PolicyDocument.Agent.self).meshIdentity == nil)
    }
  }

  @Test(arguments: [
    (#"{"id": "-bad"}"#, "id"),
    (#"{"id": ""}"#, "id"),
    (#"{"id": "ok", "colour": "blue"}"#, "colour"),
    (#"{"id": "ok", "mode": "loud"}"#, "mode"),
    (
      #"{"id": "ok", "meshIdentity": {"namespace": "a", "serviceAccount": "b", "cluster": "x"}}"#,
      "meshIdentity.cluster"
    ),
    (#"{"id": "ok", "mission": "nowhere"}"#, "mission"),
    (#"{"description": "no id"}"#, "id"),
  ])
  func otherAgentRulesAre422WithTheField(_ body: String, _ field: String) async throws {
    let fixture = try await ControlPlaneFixture.make()
    try await fixture.withAPI { client in
      let response = try await client.send(.post, "/v1/agents", key: fixture.adminKey, json: body)
      #expect(response.status == .unprocessableContent)
      #expect(response.errorBody?.errors?.contains { $0.field == field } == true, "\(response.text)")
      #expect(try await client.send(.get, "/v1/agents", key: fixture.adminKey).text == "[]")
    }
  }

  @Test(arguments: TestBackend.all) func bodyThatIsNotAJSONObjectIs400(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    try await fixture.withAPI { client in
      for body in ["[1]", "nonsense", #""id""#] {
        let response = try await client.send(.post, "/v1/agents", key: fixture.adminKey, json: body)
        #expect(response.status == .badRequest)
        #expect(response.errorBody?.error.code == "invalid_json")
      }
    }
  }

  @Test(arguments: TestBackend.all) func putTakesTheIdFromTheURLAndRejectsAnotherInTheBody(_ backend: TestBackend)
    async throws
  {
    let fixture = try await ControlPlaneFixture.make(backend)
    try await fixture.withAPI { client in
      _ = try await client.send(.post, "/v1/agents", key: fixture.adminKey, json: #"{"id": "bot"}"#)
      let renamed = try await client.send(.put, "/v1/agents/bot", key: fixture.adminKey, json: #"{"id": "other"}"#)
      #expect(renamed.status == .unprocessableContent)
      #expect(renamed.errorBody?.error.field == "id")
      let updated = try await client.send(
        .put, "/v1/agents/bot", key: fixture.adminKey, json: #"{"description": "Takes payments", "mode": "observe"}"#)
      #expect(updated.status == .ok)
      let agent = try updated.decoded(PolicyDocument.Agent.self)
      #expect(agent == .init(id: "bot", description: "Takes payments", mode: .observe))
      let missing = try await client.send(.put, "/v1/agents/ghost", key: fixture.adminKey, json: "{}")
      #expect(missing.status == .notFound)
    }
  }
}
