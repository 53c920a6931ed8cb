import ArgumentParser
import Foundation
import Testing

@testable import RemitCLI

@Suite struct CLITests {
  static let repository = CLIHarness.repository
  static let examplePolicy = repository.appendingPathComponent("examples/policy.yaml").path

  func exitCode(_ arguments: [String]) async -> Int32 { await CLIHarness.exitCode(arguments) }

  @Test func theExamplePolicyValidates() async {
    #expect(await exitCode(["policy", "validate", Self.examplePolicy]) == 0)
  }

  @Test func anInvalidPolicyExitsOne() async throws {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).yaml")
    try Data("apiVersion: remit/v1\nkind: Policy\nagents: [{id: a, meshIdentity: {namespace: x}}]\n".utf8).write(
      to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    #expect(await exitCode(["policy", "validate", file.path]) == 1)
    #expect(await exitCode(["check", "--policy", file.path, "--request", file.path]) == 2)
  }

  /// Every example request says in its name what Remit must decide.
  static let expectations: [String: Int32] = [
    "tools-call-allowed": 0, "tools-call-denied": 3, "tools-list-allowed": 0, "batch-denied": 3,
    "identity-missing": 3, "identity-unmapped": 3, "identity-foreign-trust-domain": 3,
    "observe-mode-would-deny": 0, "route-allowed": 0, "route-denied": 3, "path-traversal": 3,
    "destination-denied": 3, "a2a-allowed": 0, "a2a-no-chain": 3, "egress-allowed": 0, "egress-denied": 3,
    "body-truncated": 3,
    "body-malformed": 3, "dlp-blocked": 3, "dlp-blocked-gzip": 3, "injection-detected": 3,
  ]

  @Test(arguments: expectations.keys.sorted())
  func exampleRequestsDecideAsNamed(_ name: String) async {
    let request = Self.repository.appendingPathComponent("examples/requests/\(name).json").path
    #expect(await exitCode(["check", "--policy", Self.examplePolicy, "--request", request]) == Self.expectations[name])
  }

  @Test func everyExampleRequestHasAnExpectation() throws {
    let files = try FileManager.default.contentsOfDirectory(
      atPath: Self.repository.appendingPathComponent("examples/requests").path)
    let names = Set(files.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) })
    #expect(names == Set(Self.expectations.keys))
  }

  @Test func scanReadsJSONLinesAndRefusesBadInput() async throws {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("scan-\(UUID().uuidString).jsonl")
    defer { try? FileManager.default.removeItem(at: file) }
    try Data(#"{"text":"card 4111 1111 1111 1111"}"#.utf8 + [0x0A] + #""plain string""#.utf8).write(to: file)
    #expect(await exitCode(["scan", "--input", file.path]) == 0)
    #expect(await exitCode(["scan", "--input", file.path, "--policy", Self.examplePolicy]) == 0)
    try Data("{not json\n".utf8).write(to: file)
    #expect(await exitCode(["scan", "--input", file.path]) == 2)
    #expect(await exitCode(["scan", "--input", file.path, "--lines"]) == 0)
    #expect(
      await exitCode(["scan", "--input", file.path, "--lines", "--whole"]) == ExitCode.validationFailure.rawValue)
    #expect(await exitCode(["scan", "--input", "/nonexistent"]) == 2)
  }

  @Test func badRequestFilesExitTwo() async throws {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("req-\(UUID().uuidString).json")
    try Data("{not json".utf8).write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    #expect(await exitCode(["check", "--policy", Self.examplePolicy, "--request", file.path]) == 2)
    #expect(await exitCode(["check", "--policy", Self.examplePolicy, "--request", "/nonexistent"]) == 2)
  }

  @Test func serveRefusesADrainDelayOutOfRange() async {
    for delay in ["-1", "121", "soon"] {
      #expect(await exitCode(["serve", "--policy", Self.examplePolicy, "--drain-delay", delay]) != 0, "\(delay)")
    }
  }

  @Test func controlPlaneRefusesASignInThrottleOutOfRange() async {
    for arguments in [["--dashboard-sign-in-failures", "0"], ["--dashboard-sign-in-window", "5"]] {
      #expect(await exitCode(["control-plane", "--database", "sqlite::memory:"] + arguments) == 2, "\(arguments)")
    }
  }

  @Test func serveRefusesPlaintextOffLoopback() async {
    // Refused before anything binds: exit code 2 and a message naming the rule.
    #expect(await exitCode(["serve", "--policy", Self.examplePolicy, "--listen", "0.0.0.0:19191"]) == 2)
    #expect(await exitCode(["serve", "--policy", Self.examplePolicy, "--listen", "10.1.2.3:19191"]) == 2)
    #expect(await exitCode(["serve", "--policy", Self.examplePolicy, "--listen", "not-an-address"]) == 2)
  }
}

@Suite struct DemoPolicyTests {
  /// `remit dev` seeds the example policy; scripts/embed-demo-policy.sh regenerates the copy.
  @Test func theEmbeddedDemoPolicyIsTheExample() throws {
    let example = try String(
      contentsOf: CLIHarness.repository.appendingPathComponent("examples/policy.yaml"), encoding: .utf8)
    #expect(DemoPolicy.yaml + "\n" == example)
  }
}

@Suite struct MeshSnippetTests {
  @Test func theSnippetCarriesTheSecureDefaultsAndTheServiceFQDN() {
    let yaml = MeshSnippet(
      release: "remit-authz", namespace: "remit-system", provider: "remit", port: 9191, timeout: "0.5s"
    )
    .yaml
    #expect(yaml.contains("service: remit-authz.remit-system.svc.cluster.local"))
    #expect(yaml.contains("failOpen: false"))
    #expect(yaml.contains("maxRequestBytes: 65536"))
    #expect(yaml.contains("packAsBytes: true"))
  }

  @Test func badNamesAreRefused() async {
    #expect(await CLIHarness.exitCode(["mesh", "snippet", "--namespace", "Remit_System"]) != 0)
    #expect(await CLIHarness.exitCode(["mesh", "snippet", "--timeout", "fast"]) != 0)
    #expect(await CLIHarness.exitCode(["mesh", "snippet", "--release", "r", "--namespace", "ns"]) == 0)
  }
}

@Suite(.serialized) struct ConfigurationFileTests {
  func file(_ text: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("remit-config-\(UUID().uuidString).yaml")
      .path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  @Test func keysAreTheVariableNamesAndUnknownKeysAreRefused() throws {
    let parsed = try ConfigurationFile.parse(
      "listen: 0.0.0.0:9191\ntls-cert: /etc/remit/tls.crt\ntls-require-client-cert: false\n", path: "x")
    #expect(parsed["REMIT_LISTEN"] == "0.0.0.0:9191")
    #expect(parsed["REMIT_TLS_CERT"] == "/etc/remit/tls.crt")
    #expect(parsed["REMIT_TLS_REQUIRE_CLIENT_CERT"] == "false")
    #expect(throws: ValidationError.self) { try ConfigurationFile.parse("tls-certs: /x\n", path: "x") }
    #expect(throws: ValidationError.self) { try ConfigurationFile.parse("- listen\n", path: "x") }
    #expect(throws: ValidationError.self) { try ConfigurationFile.parse("listen: [a, b]\n", path: "x") }
  }

  @Test func serveReadsItsSettingsFromTheFileAndFlagsWin() async throws {
    let policy = CLITests.examplePolicy
    // From the file: plaintext on a non-loopback address, refused before anything starts (exit 2).
    let plaintextAnywhere = try file("listen: 0.0.0.0:9191\npolicy: \(policy)\n")
    defer { try? FileManager.default.removeItem(atPath: plaintextAnywhere) }
    #expect(await CLIHarness.exitCode(["serve", "--config", plaintextAnywhere]) == 2)
    // A flag beats the file: TLS half-configured by flag is refused for that reason instead.
    #expect(await CLIHarness.exitCode(["serve", "--config", plaintextAnywhere, "--tls-cert", "/nonexistent"]) == 2)
    let typo = try file("listen: 127.0.0.1:0\npolicyy: \(policy)\n")
    defer { try? FileManager.default.removeItem(atPath: typo) }
    #expect(await CLIHarness.exitCode(["serve", "--config", typo]) != 0)
    try ConfigurationFile.load(try file("{}\n"))
  }
}
