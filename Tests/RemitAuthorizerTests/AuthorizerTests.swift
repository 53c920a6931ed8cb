import EnvoyAPI
import Foundation
import GRPCCore
import SwiftProtobuf
import Testing

@testable import RemitAuthorizer

@Suite(.timeLimit(.minutes(1))) struct AuthorizerTests {
  static let policy = """
    apiVersion: remit/v1
    kind: Policy
    metadata: {name: t, version: "1"}
    agents:
      - {id: bot, meshIdentity: {namespace: agents, serviceAccount: bot}, mission: m}
    missions:
      - id: m
        allow:
          - {to: tools/inventory, mcp: {tools: [get_stock, reserve]}}
    """

  static func call(_ tool: String, secret: String = "s3cr3t-argument-value") -> Envoy_Service_Auth_V3_CheckRequest {
    var request = Envoy_Service_Auth_V3_CheckRequest()
    request.attributes.source.principal = "spiffe://cluster.local/ns/agents/sa/bot"
    request.attributes.destination.principal = "spiffe://cluster.local/ns/tools/sa/inventory"
    request.attributes.request.http.method = "POST"
    request.attributes.request.http.path = "/mcp?token=query-secret"
    request.attributes.request.http.headers = ["content-type": "application/json", "x-remit-agent": "forged"]
    request.attributes.request.http.rawBody = Data(
      #"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"\#(tool)","arguments":{"card":"\#(secret)"}}}"#
        .utf8
    )
    return request
  }

  @Test func decidesOverGRPCAndLogsEachDecision() async throws {
    try await withAuthorizer(policy: Self.policy) { clients, _, logs in
      let allowed = try await clients.authorization.check(Self.call("get_stock"))
      #expect(allowed.status.code == 0)
      #expect(allowed.okResponse.headersToRemove == ["x-remit-agent"])

      let denied = try await clients.authorization.check(Self.call("drop_table"))
      #expect(denied.status.code == 7)
      #expect(denied.deniedResponse.status.code == .forbidden)
      let reason = denied.deniedResponse.headers.first { $0.header.key == "x-remit-reason" }?.header.value
      #expect(reason == "scope_tool_denied")
      let decisionID = denied.deniedResponse.headers.first { $0.header.key == "x-remit-decision-id" }?.header.value

      let decisions = logs.decisions
      #expect(decisions.count == 2)
      let expectedFields = [
        "decision_id", "time", "surface", "verdict", "reason", "would_deny", "mode", "agent", "source_principal",
        "destination", "kind", "method", "path", "tool", "chain_id", "policy_version", "findings", "latency_us",
      ]
      for line in decisions {
        #expect(Set(line.keys).isSuperset(of: expectedFields), "missing fields in \(line.keys.sorted())")
      }
      let deny = try #require(decisions.last)
      #expect(deny["verdict"] as? String == "deny")
      #expect(deny["reason"] as? String == "scope_tool_denied")
      #expect(deny["decision_id"] as? String == decisionID)
      #expect(deny["agent"] as? String == "bot")
      #expect(deny["kind"] as? String == "east_west")
      #expect(deny["tool"] as? String == "drop_table")
      #expect(deny["path"] as? String == "/mcp")
      #expect(deny["policy_version"] as? String == "1")
      #expect(deny["surface"] as? String == "mesh")
      #expect(deny["would_deny"] is NSNull)
      #expect(deny["latency_us"] is NSNumber)
      // Metadata only: no argument value, no query string.
      for line in logs.all {
        #expect(!line.contains("s3cr3t-argument-value"))
        #expect(!line.contains("query-secret"))
      }
    }
  }

  /// The server reads a Check's facts from its bytes: bytes that are not a CheckRequest get
  /// INVALID_ARGUMENT (Envoy fails closed) and no decision; the same call, well-formed, is decided.
  @Test func bytesThatAreNoCheckRequestAreInvalidArgument() async throws {
    try await withAuthorizer(policy: Self.policy) { clients, _, logs in
      let bytes: [UInt8] = try Self.call("drop_table").serializedBytes()
      for broken in [Array(bytes.dropLast(3)), bytes + [0x0C], [0x0A, 0x04, 0x0A, 0x02, 0x22, 0x01]] {
        await #expect {
          _ = try await clients.check(bytes: broken)
        } throws: { error in
          (error as? RPCError)?.code == .invalidArgument && "\(error)".contains("not valid protobuf")
        }
      }
      #expect(logs.decisions.isEmpty)
      let denied = try await clients.check(bytes: bytes)
      #expect(
        denied.deniedResponse.headers.first { $0.header.key == "x-remit-reason" }?.header.value == "scope_tool_denied")
      #expect(logs.decisions.count == 1)
    }
  }

  @Test func healthIsServingWithASnapshot() async throws {
    try await withAuthorizer(policy: Self.policy) { clients, _, _ in
      let overall = try await clients.health.check(Grpc_Health_V1_HealthCheckRequest())
      #expect(overall.status == .serving)
      var named = Grpc_Health_V1_HealthCheckRequest()
      named.service = "envoy.service.auth.v3.Authorization"
      #expect(try await clients.health.check(named).status == .serving)
      named.service = "nope"
      await #expect(throws: RPCError.self) { try await clients.health.check(named) }
    }
  }

  @Test func followsThePolicyFileAndKeepsTheLastGoodOne() async throws {
    try await withAuthorizer(policy: Self.policy) { clients, file, logs in
      #expect(try await clients.authorization.check(Self.call("get_stock")).status.code == 0)

      // Remove get_stock from the mission: the next decisions change.
      try Data(Self.policy.replacingOccurrences(of: "get_stock, ", with: "").utf8).write(to: file, options: .atomic)
      try await waitUntil { try await clients.authorization.check(Self.call("get_stock")).status.code == 7 }

      // A broken edit is rejected; the last good policy stays in force.
      // Written atomically, as ConfigMap swaps and editors do: a half-written file is a different
      // (also rejected) document, and this test asserts the rejection of this one.
      try Data("apiVersion: remit/v1\nkind: Policy\nagents: [{id: x, colour: red}]\n".utf8).write(
        to: file, options: .atomic)
      try await waitUntil { logs.all.contains { $0.contains("policy file rejected") } }
      #expect(try await clients.authorization.check(Self.call("reserve")).status.code == 0)
      #expect(try await clients.authorization.check(Self.call("get_stock")).status.code == 7)
      let rejection = try #require(
        logs.objects.first { $0["message"] as? String == "policy file rejected; keeping the last good snapshot" })
      #expect((rejection["errors"] as? [String])?.contains { $0.contains("agents[0].colour: unknown field") } == true)
    }
  }

  @Test func refusesPlaintextOffLoopback() throws {
    let configuration = AuthorizerConfiguration(policyFile: "x", listen: ListenAddress(host: "0.0.0.0", port: 9191))
    let error = try #require(throws: ConfigurationError.self) { try configuration.validate() }
    #expect(error.code == "plaintext_not_loopback")
    #expect(error.message.contains("0.0.0.0:9191"))
    for host in ["127.0.0.1", "127.1.2.3", "::1", "localhost"] {
      #expect(throws: Never.self) {
        try AuthorizerConfiguration(policyFile: "x", listen: ListenAddress(host: host, port: 9191), adminListen: nil)
          .validate()
      }
    }
    for host in ["10.0.0.1", "::", "example.com", "128.0.0.1"] {
      #expect(throws: ConfigurationError.self) {
        try AuthorizerConfiguration(policyFile: "x", listen: ListenAddress(host: host, port: 9191)).validate()
      }
    }
  }

  @Test func parsesListenAddresses() throws {
    #expect(try ListenAddress(parsing: "127.0.0.1:9191") == ListenAddress(host: "127.0.0.1", port: 9191))
    #expect(try ListenAddress(parsing: "[::1]:0") == ListenAddress(host: "::1", port: 0))
    for bad in ["", "9191", "host:", ":80", "h:99999", "::1:80", "[::1]80", "h:-1"] {
      #expect(throws: ConfigurationError.self) { try ListenAddress(parsing: bad) }
    }
  }

  @Test func anInvalidPolicyAtStartIsFatal() async throws {
    await #expect(throws: (any Error).self) {
      try await withAuthorizer(policy: "apiVersion: remit/v1\nkind: Policy\nagents: [{id: a, mission: none}]\n") {
        _, _, _ in
        Issue.record("the authorizer should not have started")
      }
    }
  }
}

func waitUntil(timeout: Duration = .seconds(10), _ condition: @Sendable () async throws -> Bool) async throws {
  let deadline = ContinuousClock.now + timeout
  while ContinuousClock.now < deadline {
    if try await condition() { return }
    try await Task.sleep(for: .milliseconds(50))
  }
  Issue.record("condition not met within \(timeout)")
}
