import EnvoyAPI
import Foundation
import RemitEngine
import SwiftProtobuf
import Testing

@testable import RemitEnvoy

@Suite struct CheckMappingTests {
  static let policy = """
    apiVersion: remit/v1
    kind: Policy
    agents:
      - {id: bot, meshIdentity: {namespace: agents, serviceAccount: bot}, mission: m}
    missions:
      - id: m
        allow:
          - {to: tools/inventory, mcp: {tools: [get_stock]}}
          - {to: tools/catalog, http: [{methods: [GET], paths: ["/items/*"]}]}
    """

  let snapshot: PolicySnapshot
  init() throws {
    snapshot = try PolicySnapshot(bytes: Array(Self.policy.utf8), format: .yaml)
  }

  static func checkRequest(
    source: String = "",
    body: String,
    rawBody: Bool = true,
    headers: [String: String] = ["content-type": "application/json"]
  ) -> Envoy_Service_Auth_V3_CheckRequest {
    var request = Envoy_Service_Auth_V3_CheckRequest()
    request.attributes.source.principal = source
    request.attributes.destination.principal = "spiffe://cluster.local/ns/tools/sa/inventory"
    request.attributes.request.http.method = "POST"
    request.attributes.request.http.path = "/mcp?session=1"
    request.attributes.request.http.host = "inventory"
    request.attributes.request.http.headers = headers
    if rawBody {
      request.attributes.request.http.rawBody = Data(body.utf8)
    } else {
      request.attributes.request.http.body = body
    }
    return request
  }

  static let bot = "spiffe://cluster.local/ns/agents/sa/bot"
  static let call = #"{"jsonrpc":"2.0","id":"r-1","method":"tools/call","params":{"name":"drop"}}"#

  @Test func mapsTheAttributes() {
    var check = Self.checkRequest(source: Self.bot, body: Self.call)
    check.attributes.tlsSession.sni = "api.example.com"
    check.attributes.destination.service = "inventory.tools.svc.cluster.local"
    let request = GovernedRequest(check)
    #expect(request.sourcePrincipal == Self.bot)
    #expect(request.destinationPrincipal == "spiffe://cluster.local/ns/tools/sa/inventory")
    #expect(request.tlsServerName == "api.example.com")
    #expect(request.destinationService == "inventory.tools.svc.cluster.local")
    #expect(request.http?.method == "POST")
    #expect(request.http?.path == "/mcp?session=1")
    #expect(request.http?.body == Array(Self.call.utf8))
    #expect(request.http?.headers["content-type"] == "application/json")
  }

  @Test func readsTheStringBodyWhenNotPackedAsBytes() {
    let request = GovernedRequest(Self.checkRequest(source: Self.bot, body: Self.call, rawBody: false))
    #expect(request.http?.body == Array(Self.call.utf8))
  }

  @Test func readsTheHeaderMapWhenHeadersAreAbsent() {
    var check = Self.checkRequest(source: Self.bot, body: Self.call, headers: [:])
    var first = Envoy_Config_Core_V3_HeaderValue()
    first.key = "Content-Type"
    first.rawValue = Data("application/json".utf8)
    var second = Envoy_Config_Core_V3_HeaderValue()
    second.key = "x-a"
    second.value = "1"
    var third = second
    third.value = "2"
    check.attributes.request.http.headerMap.headers = [first, second, third]
    let request = GovernedRequest(check)
    #expect(request.http?.headers["content-type"] == "application/json")
    #expect(request.http?.headers["x-a"] == "1,2")
  }

  @Test func aNetworkCheckHasNoHTTPPart() {
    var check = Envoy_Service_Auth_V3_CheckRequest()
    check.attributes.source.principal = Self.bot
    check.attributes.tlsSession.sni = "api.example.com"
    #expect(GovernedRequest(check).http == nil)
  }

  @Test func allowIsStatusOKWithOverwritingHeaders() {
    var decision = Decision(sourcePrincipal: Self.bot)
    decision.verdict = .allow
    decision.reason = nil
    decision.headersToSet = [("authorization", "Bearer x")]
    decision.headersToRemove = ["x-remit-agent"]
    let response = decision.checkResponse(decisionID: "abc")
    #expect(response.status.code == 0)
    #expect(response.okResponse.headersToRemove == ["x-remit-agent"])
    let header = response.okResponse.headers.first
    #expect(header?.header.key == "authorization")
    #expect(header?.hasAppend == true)
    #expect(header?.append.value == false)
    guard case .okResponse = response.httpResponse else {
      Issue.record("expected ok_response")
      return
    }
  }

  @Test func denyIsPermissionDeniedWith403HeadersAndAJSONRPCError() throws {
    let engine = DecisionEngine()
    let decision = engine.decide(
      GovernedRequest(Self.checkRequest(source: Self.bot, body: Self.call)), snapshot: snapshot)
    #expect(decision.reason == .scopeToolDenied)
    let response = decision.checkResponse(decisionID: "d-1")
    #expect(response.status.code == 7)
    #expect(response.deniedResponse.status.code == .forbidden)
    let headers = Dictionary(
      uniqueKeysWithValues: response.deniedResponse.headers.map { ($0.header.key, $0.header.value) })
    #expect(headers["content-type"] == "application/json")
    #expect(headers["x-remit-reason"] == "scope_tool_denied")
    #expect(headers["x-remit-decision-id"] == "d-1")
    #expect(response.deniedResponse.headers.allSatisfy { $0.hasAppend && !$0.append.value })
    let body = try #require(
      try JSONSerialization.jsonObject(with: Data(response.deniedResponse.body.utf8)) as? [String: Any]
    )
    #expect(body["jsonrpc"] as? String == "2.0")
    #expect(body["id"] as? String == "r-1")
    let error = try #require(body["error"] as? [String: Any])
    let data = try #require(error["data"] as? [String: Any])
    #expect(data["reason"] as? String == "scope_tool_denied")
    #expect(data["decision_id"] as? String == "d-1")
  }

  @Test func batchDenialsAnswerEachRequestID() throws {
    let batch = "[" + Self.call + "," + Self.call.replacingOccurrences(of: "\"r-1\"", with: "2") + "]"
    let decision = DecisionEngine().decide(
      GovernedRequest(Self.checkRequest(source: Self.bot, body: batch)), snapshot: snapshot)
    let body = decision.checkResponse(decisionID: "d").deniedResponse.body
    let array = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]])
    #expect(array.count == 2)
    #expect(array[0]["id"] as? String == "r-1")
    #expect(array[1]["id"] as? Int == 2)
  }

  @Test func nonJSONRPCDenialsArePlainJSON() throws {
    var check = Self.checkRequest(source: "", body: "")
    check.attributes.request.http.method = "GET"
    let decision = DecisionEngine().decide(GovernedRequest(check), snapshot: snapshot)
    #expect(decision.reason == .identityMissing)
    let body = decision.checkResponse(decisionID: "d-2").deniedResponse.body
    let object = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: String])
    #expect(object == ["error": "forbidden", "reason": "identity_missing", "decision_id": "d-2"])
  }

  @Test func theResponseSurvivesTheWire() throws {
    let decision = DecisionEngine().decide(
      GovernedRequest(Self.checkRequest(source: Self.bot, body: Self.call)), snapshot: snapshot)
    let response = decision.checkResponse(decisionID: "w")
    let bytes: [UInt8] = try response.serializedBytes()
    let decoded = try Envoy_Service_Auth_V3_CheckResponse(serializedBytes: bytes)
    #expect(decoded == response)
  }

  @Test func readsEnvoysJSONForm() throws {
    let json = """
      {"attributes":{"source":{"principal":"\(Self.bot)","address":{"socketAddress":{"address":"10.0.0.1","portValue":4000}}},
      "destination":{"principal":"spiffe://cluster.local/ns/tools/sa/inventory"},
      "request":{"time":"2026-11-23T10:00:00Z","http":{"method":"POST","path":"/mcp","headers":{"content-type":"application/json"},
      "body":"{\\"jsonrpc\\":\\"2.0\\",\\"id\\":1,\\"method\\":\\"tools/call\\",\\"params\\":{\\"name\\":\\"get_stock\\"}}"}},
      "metadataContext":{},"routeMetadataContext":{}}}
      """
    var options = JSONDecodingOptions()
    options.ignoreUnknownFields = true
    let check = try Envoy_Service_Auth_V3_CheckRequest(jsonString: json, options: options)
    let decision = DecisionEngine().decide(GovernedRequest(check), snapshot: snapshot)
    #expect(decision.verdict == .allow)
    #expect(decision.tool == "get_stock")
  }
}
