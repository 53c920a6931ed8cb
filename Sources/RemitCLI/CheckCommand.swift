import ArgumentParser
import EnvoyAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import RemitAuthorizer
import RemitEngine
import RemitEnvoy
import SwiftProtobuf

struct CheckCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "check",
    abstract: "Decide one request offline, or ask a running authorizer, and print the decision.",
    discussion: """
      --request is an Envoy CheckRequest in its JSON form (proto3 JSON mapping), as Envoy's \
      ext_authz filter sends it. With --policy the decision is made here, with its trace. With \
      --authorizer HOST:PORT the request goes over gRPC to a running `remit serve` (plaintext, \
      loopback), as Envoy would send it, and the decision is logged and audited there. Exit code: \
      0 allow, 3 deny, 2 bad input.
      """
  )

  @Option(name: .long, help: "Policy file, YAML or JSON.")
  var policy: String?

  @Option(name: .long, help: "A running authorizer's gRPC address HOST:PORT, e.g. 127.0.0.1:9191.")
  var authorizer: String?

  @Option(name: .long, help: "CheckRequest in Envoy's JSON form.")
  var request: String

  func run() async throws {
    switch (policy, authorizer) {
    case (let policy?, nil): try await decideOffline(policy: policy)
    case (nil, let authorizer?): try await askAuthorizer(authorizer)
    default: throw ValidationError("give exactly one of --policy FILE and --authorizer HOST:PORT")
    }
  }

  func readCheckRequest() throws -> Envoy_Service_Auth_V3_CheckRequest {
    let requestBytes = try readInput(request, limit: 16 << 20)
    do {
      var options = JSONDecodingOptions()
      options.ignoreUnknownFields = true
      return try Envoy_Service_Auth_V3_CheckRequest(jsonUTF8Bytes: requestBytes, options: options)
    } catch {
      printError("\(request): not a CheckRequest in Envoy's JSON form: \(error)")
      throw ExitCode(2)
    }
  }

  /// Sends the request to a live authorizer and prints what Envoy would act on.
  func askAuthorizer(_ address: String) async throws {
    let target: ListenAddress
    do {
      target = try ListenAddress(parsing: address)
    } catch {
      throw ValidationError("--authorizer must be HOST:PORT: \(error)")
    }
    let checkRequest = try readCheckRequest()
    let response: Envoy_Service_Auth_V3_CheckResponse
    do {
      response = try await withGRPCClient(
        transport: .http2NIOPosix(
          target: .dns(host: target.host, port: target.port), transportSecurity: .plaintext)
      ) { client in
        try await Envoy_Service_Auth_V3_Authorization.Client(wrapping: client).check(
          checkRequest,
          options: {
            var options = CallOptions.defaults; options.timeout = .seconds(10); return options
          }())
      }
    } catch {
      printError("remit check: the authorizer at \(address) did not answer: \(error)")
      throw ExitCode(2)
    }
    let allowed = response.status.code == 0
    var headers: [String: String] = [:]
    for option in response.deniedResponse.headers + response.okResponse.headers {
      headers[option.header.key] = option.header.value
    }
    let output: [String: Any] = [
      "verdict": allowed ? "allow" : "deny",
      "reason": headers[RemitHeader.reason] ?? NSNull(),
      "decision_id": headers[RemitHeader.decisionID] ?? NSNull(),
      "response": (try? JSONSerialization.jsonObject(with: Data(((try? response.jsonString()) ?? "{}").utf8))) ?? [:],
    ]
    let data = try JSONSerialization.data(
      withJSONObject: output, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    print(String(decoding: data, as: UTF8.self))
    if !allowed { throw ExitCode(3) }
  }

  func decideOffline(policy: String) async throws {
    let policyBytes = try readInput(policy)
    let snapshot: PolicySnapshot
    do {
      snapshot = try PolicySnapshot(bytes: policyBytes, format: .detect(fileName: policy, bytes: policyBytes))
    } catch {
      for line in error.lines { printError("\(policy): \(line)") }
      throw ExitCode(2)
    }
    let checkRequest = try readCheckRequest()
    let engine = DecisionEngine()
    var decision = engine.decide(GovernedRequest(checkRequest), snapshot: snapshot, trace: true)
    // Offline there is no ledger state: the call is judged as the first of a new chain.
    await engine.consult(InMemoryDelegationLedger(), for: &decision, snapshot: snapshot, trace: true)
    if decision.verdict == .allow, let plan = decision.credential {
      let what =
        switch plan.kind {
        case .mint(let ttl): "a JWT valid \(ttl) s (scope \(plan.scope))"
        case .secret(let name): "secret \(name)"
        }
      decision.trace.append(
        .init(step: "credentials", outcome: "planned", detail: "the authorizer would inject \(what) as \(plan.header)"))
    }
    let response = decision.checkResponse(decisionID: "offline")
    let responseJSON = (try? response.jsonString()) ?? "{}"
    func value(_ text: String?) -> Any { text ?? NSNull() }
    let output: [String: Any] = [
      "verdict": decision.verdict.rawValue,
      "reason": value(decision.reason?.rawValue),
      "would_deny": value(decision.wouldDeny?.rawValue),
      "mode": value(decision.mode?.rawValue),
      "agent": value(decision.agent),
      "kind": value(decision.kind?.rawValue),
      "destination": value(decision.destination),
      "method": value(decision.method),
      "path": value(decision.path),
      "tool": value(decision.tool),
      "rpc_method": value(decision.rpcMethod),
      "chain_id": value(decision.chainID),
      "external_host": value(decision.externalHost),
      "policy_version": value(decision.policyVersion),
      "findings": decision.findings,
      "aibom": decision.component.map { component -> [String: Any] in
        [
          "publisher": value(component.publisher), "version": value(component.version),
          "risk": value(component.risk?.rawValue),
        ]
      } ?? NSNull(),
      "trace": decision.trace.map { ["step": $0.step, "outcome": $0.outcome, "detail": $0.detail] },
      "response": (try? JSONSerialization.jsonObject(with: Data(responseJSON.utf8))) ?? [:],
    ]
    let data = try JSONSerialization.data(
      withJSONObject: output,
      options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    )
    print(String(decoding: data, as: UTF8.self))
    if decision.verdict == .deny { throw ExitCode(3) }
  }
}
