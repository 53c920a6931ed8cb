import Foundation
import Testing

@testable import RemitCLI

@Suite struct MeshLintTests {
  static let goodMesh = """
    apiVersion: install.istio.io/v1alpha1
    kind: IstioOperator
    spec:
      meshConfig:
        extensionProviders:
          - name: remit
            envoyExtAuthzGrpc:
              service: remit-authz.remit-system.svc.cluster.local
              port: 9191
              failOpen: false
              includeRequestBodyInCheck: {maxRequestBytes: 65536, allowPartialMessage: true, packAsBytes: true}
    ---
    apiVersion: security.istio.io/v1
    kind: AuthorizationPolicy
    metadata: {name: remit, namespace: agents}
    spec:
      action: CUSTOM
      provider: {name: remit}
      rules: [{}]
    ---
    apiVersion: security.istio.io/v1
    kind: PeerAuthentication
    metadata: {name: default, namespace: agents}
    spec: {mtls: {mode: STRICT}}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: remit-authz, namespace: remit-system}
    spec:
      ports: [{name: grpc, port: 9191}]
    """

  func lint(_ text: String) throws -> [MeshLint.Finding] {
    MeshLint().lint(try MeshLint.documents(file: "test.yaml", text: text))
  }

  @Test func aCorrectSetupHasNoFindings() throws {
    #expect(try lint(Self.goodMesh) == [])
  }

  @Test(arguments: [
    ("failOpen: false", "failOpen: true", "failOpen is true"),
    ("maxRequestBytes: 65536", "maxRequestBytes: 8192", "below 65536"),
    ("provider: {name: remit}", "provider: {name: remit-authz}", "is not registered"),
    ("spec: {mtls: {mode: STRICT}}", "spec: {mtls: {mode: PERMISSIVE}}", "does not require STRICT mTLS"),
    (
      "spec: {mtls: {mode: STRICT}}", "spec: {mtls: {mode: STRICT}, portLevelMtls: {8080: {mode: DISABLE}}}",
      "on port(s) 8080"
    ),
    ("ports: [{name: grpc, port: 9191}]", "ports: [{name: http, port: 9191}]", "not grpc"),
    (
      "namespace: agents}\nspec:\n  action", "namespace: remit-system}\nspec:\n  action",
      "own namespace remit-system is governed"
    ),
  ])
  func eachBreakageIsAnError(_ change: (String, String, String)) throws {
    let text = Self.goodMesh.replacingOccurrences(of: change.0, with: change.1)
    #expect(text != Self.goodMesh)
    let findings = try lint(text)
    #expect(findings.contains { $0.severity == .error && $0.problem.contains(change.2) }, "\(findings)")
  }

  @Test func ambientGovernedNamespacesAndTheIstioConfigMapAreUnderstood() throws {
    let text =
      Self.goodMesh + """

        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: agents, labels: {istio.io/dataplane-mode: ambient}}
        """
    #expect(try lint(text).contains { $0.problem.contains("ambient") })
    let configMap = """
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: istio, namespace: istio-system}
      data:
        mesh: |
          extensionProviders:
            - name: remit
              envoyExtAuthzGrpc: {service: remit-authz.remit-system.svc.cluster.local, port: 9191, failOpen: true}
      """
    let findings = try lint(configMap)
    #expect(findings.contains { $0.problem == "failOpen is true" })
    #expect(findings.contains { $0.problem == "includeRequestBodyInCheck is missing" })
  }

  @Test func theSnippetPassesTheLintAndTheCommandExitsByFindings() async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("remit-lint-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let snippet = MeshSnippet(
      release: "remit-authz", namespace: "remit-system", provider: "remit", port: 9191, timeout: "0.5s")
    #expect(try lint(snippet.yaml) == [])
    let good = directory.appendingPathComponent("good.yaml").path
    try Self.goodMesh.write(toFile: good, atomically: true, encoding: .utf8)
    #expect(await CLIHarness.exitCode(["mesh", "lint", good]) == 0)
    let bad = directory.appendingPathComponent("bad.yaml").path
    try Self.goodMesh.replacingOccurrences(of: "failOpen: false", with: "failOpen: true").write(
      toFile: bad, atomically: true, encoding: .utf8)
    #expect(await CLIHarness.exitCode(["mesh", "lint", bad]) == 1)
    #expect(await CLIHarness.exitCode(["mesh", "lint", directory.appendingPathComponent("missing.yaml").path]) == 2)
  }
}
