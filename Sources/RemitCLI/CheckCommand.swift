import ArgumentParser
import EnvoyAPI
import Foundation
import RemitEngine
import RemitEnvoy
import SwiftProtobuf

struct CheckCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "check",
    abstract: "Decide one request offline and print the decision with its trace.",
    discussion: """
      --request is an Envoy CheckRequest in its JSON form (proto3 JSON mapping), as Envoy's \
      ext_authz filter sends it. Exit code: 0 allow, 3 deny, 2 bad input.
      """
  )

  @Option(name: .long, help: "Policy file, YAML or JSON.")
  var policy: String

  @Option(name: .long, help: "CheckRequest in Envoy's JSON form.")
  var request: String

  func run() async throws {
    let policyBytes = try readInput(policy)
    let snapshot: PolicySnapshot
    do {
      snapshot = try PolicySnapshot(bytes: policyBytes, format: .detect(fileName: policy, bytes: policyBytes))
    } catch {
      for line in error.lines { printError("\(policy): \(line)") }
      throw ExitCode(2)
    }
    let requestBytes = try readInput(request, limit: 16 << 20)
    let checkRequest: Envoy_Service_Auth_V3_CheckRequest
    do {
      var options = JSONDecodingOptions()
      options.ignoreUnknownFields = true
      checkRequest = try Envoy_Service_Auth_V3_CheckRequest(jsonUTF8Bytes: requestBytes, options: options)
    } catch {
      printError("\(request): not a CheckRequest in Envoy's JSON form: \(error)")
      throw ExitCode(2)
    }
    let decision = DecisionEngine().decide(GovernedRequest(checkRequest), snapshot: snapshot, trace: true)
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
