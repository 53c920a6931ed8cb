import ArgumentParser

struct MeshCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "mesh",
    abstract: "Istio integration helpers.",
    subcommands: [SnippetCommand.self, LintCommand.self]
  )

  struct LintCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "lint",
      abstract: "Check Istio and Kubernetes YAML for what would break Remit's governance.",
      discussion: """
        Reads every YAML document in FILES (AuthorizationPolicy, PeerAuthentication, Namespace, \
        Service, and the mesh config as an IstioOperator, the istio ConfigMap or a meshConfig: \
        document). Reports governed namespaces without STRICT mTLS or with a PERMISSIVE/DISABLE \
        override, ambient-mode governed namespaces, CUSTOM policies naming an unregistered \
        provider, the authorizer's own namespace governed, failOpen: true, maxRequestBytes below \
        64 KiB and an authorizer Service port not named grpc. Each finding names the resource, the \
        problem, why it breaks governance and the fix. Exit code 1 when there is an error, 2 on \
        unreadable input.
        """
    )

    @Argument(help: "YAML files (multi-document files are fine).")
    var files: [String]

    @Option(name: .customLong("root-namespace"), help: "Istio's root namespace (default istio-system).")
    var rootNamespace: String = "istio-system"

    func run() async throws {
      var documents: [MeshLint.Document] = []
      for file in files {
        do {
          let bytes = try readInput(file, limit: 16 << 20)
          documents += try MeshLint.documents(file: file, text: String(decoding: bytes, as: UTF8.self))
        } catch {
          printError("\(file): cannot read YAML: \(error)")
          throw ExitCode(2)
        }
      }
      let findings = MeshLint(rootNamespace: rootNamespace).lint(documents)
      for finding in findings { print(finding) }
      let errors = findings.filter { $0.severity == .error }.count
      print("\(documents.count) documents, \(errors) errors, \(findings.count - errors) warnings")
      if errors > 0 { throw ExitCode(1) }
    }
  }

  struct SnippetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "snippet",
      abstract: "Print the meshConfig extensionProviders entry that registers Remit with Istio.",
      discussion: """
        Paste it under meshConfig in the IstioOperator or the istiod Helm values (on managed Istio, \\
        where the provider goes is in docs/deploy.md). The values are the secure ones: failOpen \\
        false, and the body up to 64 KiB sent with each check so DLP and the JSON-RPC checks see it.
        """
    )

    @Option(name: .long, help: "The Helm release name of the remit-authz chart (the Service's name).")
    var release: String = "remit-authz"

    @Option(name: .long, help: "The namespace Remit runs in.")
    var namespace: String = "remit-system"

    @Option(name: .long, help: "The provider name AuthorizationPolicies refer to.")
    var provider: String = "remit"

    @Option(name: .long, help: "The gRPC port of the Service.")
    var port: Int = 9191

    @Option(name: .long, help: "How long Envoy waits for a decision before failing closed.")
    var timeout: String = "0.5s"

    func validate() throws {
      for (name, value) in [("--release", release), ("--namespace", namespace), ("--provider", provider)] {
        guard !value.isEmpty, value.utf8.count <= 63,
          value.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D })
        else { throw ValidationError("\(name) must be a DNS-1123 label (a-z, 0-9 and -, at most 63)") }
      }
      guard (1...65535).contains(port) else { throw ValidationError("--port must be 1-65535") }
      guard timeout.hasSuffix("s"), Double(timeout.dropLast()) != nil else {
        throw ValidationError("--timeout must be a duration in seconds such as 0.5s")
      }
    }

    func run() async throws {
      print(
        MeshSnippet(release: release, namespace: namespace, provider: provider, port: port, timeout: timeout).yaml,
        terminator: "")
    }
  }
}

/// The extension provider registration (SPEC section 11), shared with the chart's NOTES.
struct MeshSnippet {
  var release: String
  var namespace: String
  var provider: String
  var port: Int
  var timeout: String

  var yaml: String {
    """
    meshConfig:
      extensionProviders:
        - name: \(provider)
          envoyExtAuthzGrpc:
            service: \(release).\(namespace).svc.cluster.local
            port: \(port)
            timeout: \(timeout)
            failOpen: false
            includeRequestBodyInCheck:
              maxRequestBytes: 65536
              allowPartialMessage: true
              packAsBytes: true

    """
  }
}
