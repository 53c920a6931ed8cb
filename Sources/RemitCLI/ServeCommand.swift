import ArgumentParser
import Foundation
import Logging
import RemitAuthorizer

struct ServeCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "serve",
    abstract: "Run the mesh authorizer: Envoy ext_authz v3 gRPC on --listen, health on --admin-listen.",
    discussion: """
      The policy comes from a file (--policy) or from the control plane (--control-plane with an \
      authorizer API key). Every flag can also be set with an environment variable, shown in \
      brackets. The policy file is reloaded when it changes; a change that does not validate is \
      logged and the last good policy stays in force. From a control plane, each new version is \
      applied as soon as the long-poll returns it, the last good snapshot is kept in --state-dir and used when the \
      control plane cannot be reached at start, and decision events are sent in batches (spooled \
      to --state-dir while the control plane is down). With --tls-cert, --tls-key and \
      --tls-client-ca the gRPC listener requires client certificates from the mesh CA; the files \
      are re-read when they change. Plaintext gRPC is allowed on a loopback address only. \
      Settings may also come from a YAML file (--config): see docs/operations.md.
      """
  )

  @Option(
    name: .long,
    help: "YAML file of settings; keys are the variables' names without REMIT_, e.g. tls-cert. [REMIT_CONFIG]")
  var config: String?

  @Option(name: .long, help: "Policy file, YAML or JSON. [REMIT_POLICY]")
  var policy: String?

  @Option(
    name: .customLong("control-plane"),
    help: "Follow the control plane at this URL (http://HOST:PORT) instead of a policy file. [REMIT_CONTROL_PLANE]")
  var controlPlane: String?

  @Option(
    name: .customLong("api-key"),
    help: "API key with the authorizer role. Visible in the process list: prefer REMIT_API_KEY or --api-key-file.")
  var apiKey: String?

  @Option(name: .customLong("api-key-file"), help: "File holding the authorizer API key. [REMIT_API_KEY_FILE]")
  var apiKeyFile: String?

  @Option(
    name: .customLong("state-dir"),
    help:
      "Writable directory for the transport key, the snapshot cache and the audit spool (default remit-state). [REMIT_STATE_DIR]"
  )
  var stateDir: String?

  @Option(
    name: .customLong("instance-id"),
    help: "This authorizer's name in the control plane (default: the host name). [REMIT_INSTANCE_ID]")
  var instanceID: String?

  @Option(name: .long, help: "gRPC listen address HOST:PORT (default 127.0.0.1:9191). [REMIT_LISTEN]")
  var listen: String?

  @Option(
    name: .customLong("admin-listen"),
    help:
      "Admin HTTP listen address for /healthz, /readyz, /metrics and /.well-known/jwks.json (default 127.0.0.1:9901). [REMIT_ADMIN_LISTEN]"
  )
  var adminListen: String?

  @Option(name: .customLong("tls-cert"), help: "PEM certificate chain for the gRPC listener. [REMIT_TLS_CERT]")
  var tlsCert: String?

  @Option(name: .customLong("tls-key"), help: "PEM private key for --tls-cert. [REMIT_TLS_KEY]")
  var tlsKey: String?

  @Option(
    name: .customLong("tls-client-ca"),
    help: "PEM CA bundle that client certificates must chain to (the mesh root). [REMIT_TLS_CLIENT_CA]")
  var tlsClientCA: String?

  @Option(
    name: .customLong("tls-require-client-cert"),
    help: "Refuse clients without a certificate from --tls-client-ca (default true). [REMIT_TLS_REQUIRE_CLIENT_CERT]")
  var tlsRequireClientCert: Bool?

  @Option(
    name: .customLong("tls-client-san"),
    help:
      "Allow only client certificates with this SPIFFE ID or DNS name (repeatable; * at the end matches a prefix). [REMIT_TLS_CLIENT_SANS, comma-separated]"
  )
  var tlsClientSANs: [String] = []

  @Option(
    name: .customLong("secret"),
    help:
      "A static secret credentials may inject, on a policy file: NAME=file:PATH or NAME=env:VARIABLE (repeatable). [REMIT_SECRETS, comma-separated]"
  )
  var secrets: [String] = []

  @Option(
    name: .customLong("ledger-timeout-ms"),
    help:
      "How long a delegation hop waits for the control plane's ledger before it is denied (default 500). [REMIT_LEDGER_TIMEOUT_MS]"
  )
  var ledgerTimeoutMilliseconds: Int?

  @Option(
    name: .customLong("drain-delay"),
    help:
      "Seconds to keep answering checks after SIGTERM, with health already NOT_SERVING, while Envoys notice (0 to 120, default 0; the chart sets 5). [REMIT_DRAIN_DELAY]"
  )
  var drainDelaySeconds: Int?

  @Option(
    name: .customLong("log-level"), help: "trace, debug, info, warning or error (default info). [REMIT_LOG_LEVEL]")
  var logLevel: String?

  func run() async throws {
    try ConfigurationFile.load(config)
    let level = try parseLogLevel(environmentFallback(logLevel, "REMIT_LOG_LEVEL") ?? "info")
    var configuration: AuthorizerConfiguration
    do {
      configuration = AuthorizerConfiguration(
        policySource: try policySource(),
        listen: try ListenAddress(parsing: environmentFallback(listen, "REMIT_LISTEN") ?? "127.0.0.1:9191"),
        adminListen: try ListenAddress(
          parsing: environmentFallback(adminListen, "REMIT_ADMIN_LISTEN") ?? "127.0.0.1:9901"),
        tls: try tlsFiles(),
        stateDirectory: environmentFallback(stateDir, "REMIT_STATE_DIR") ?? "remit-state"
      )
      configuration.instanceID = environmentFallback(instanceID, "REMIT_INSTANCE_ID") ?? hostName()
      configuration.staticSecrets = try staticSecrets()
      configuration.drainDelay = try drainDelay()
      try configuration.validate()
    } catch {
      printError("remit serve: \(error)")
      throw ExitCode(2)
    }
    var logger = Logger(label: "remit.authorizer") { JSONLogHandler(label: $0) }
    logger.logLevel = level
    do {
      try await Authorizer(configuration: configuration, logger: logger).run()
    } catch let error as any PolicyErrorDescribable {
      logger.critical(
        "cannot start: policy file is invalid", metadata: ["errors": .array(error.lines.map { .string($0) })])
      throw ExitCode(1)
    } catch let error as ConfigurationError {
      logger.critical("cannot start", metadata: ["error_code": "\(error.code)", "error": "\(error.message)"])
      throw ExitCode(1)
    }
  }

  func policySource() throws -> PolicySource {
    let file = environmentFallback(policy, "REMIT_POLICY")
    let url = environmentFallback(controlPlane, "REMIT_CONTROL_PLANE")
    switch (file, url) {
    case (let file?, nil):
      return .file(file)
    case (nil, let url?):
      return .controlPlane(
        ControlPlaneConnection(
          baseURL: url,
          apiKey: try readAPIKey(),
          instanceID: environmentFallback(instanceID, "REMIT_INSTANCE_ID") ?? hostName(),
          stateDirectory: environmentFallback(stateDir, "REMIT_STATE_DIR") ?? "remit-state",
          ledgerTimeout: try ledgerTimeout()
        ))
    case (.some, .some):
      throw ConfigurationError(
        code: "policy_source_conflict", message: "give either --policy or --control-plane, not both")
    case (nil, nil):
      throw ConfigurationError(
        code: "policy_source_missing",
        message: "--policy FILE or --control-plane URL is required (or REMIT_POLICY / REMIT_CONTROL_PLANE)")
    }
  }

  func tlsFiles() throws -> TLSFiles? {
    let certificate = environmentFallback(tlsCert, "REMIT_TLS_CERT")
    let key = environmentFallback(tlsKey, "REMIT_TLS_KEY")
    let clientCA = environmentFallback(tlsClientCA, "REMIT_TLS_CLIENT_CA")
    var require = true
    if let tlsRequireClientCert {
      require = tlsRequireClientCert
    } else if let text = environmentFallback(nil, "REMIT_TLS_REQUIRE_CLIENT_CERT") {
      guard let value = Bool(text.lowercased()) else {
        throw ConfigurationError(
          code: "tls_option_invalid", message: "REMIT_TLS_REQUIRE_CLIENT_CERT must be true or false")
      }
      require = value
    }
    switch (certificate, key) {
    case (nil, nil):
      guard clientCA == nil else {
        throw ConfigurationError(code: "tls_option_invalid", message: "--tls-client-ca needs --tls-cert and --tls-key")
      }
      return nil
    case (let certificate?, let key?):
      var names = tlsClientSANs
      if names.isEmpty, let text = environmentFallback(nil, "REMIT_TLS_CLIENT_SANS") {
        names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
      }
      guard names.isEmpty || (require && clientCA != nil) else {
        throw ConfigurationError(
          code: "tls_option_invalid", message: "--tls-client-san needs client certificates (--tls-client-ca)")
      }
      return TLSFiles(
        certificate: certificate, privateKey: key, clientCA: clientCA, requireClientCertificate: require,
        allowedClientNames: names)
    default:
      throw ConfigurationError(code: "tls_option_invalid", message: "--tls-cert and --tls-key go together")
    }
  }

  func staticSecrets() throws -> [String: SecretSource] {
    var entries = secrets
    if entries.isEmpty, let text = environmentFallback(nil, "REMIT_SECRETS") {
      entries = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
    var sources: [String: SecretSource] = [:]
    for entry in entries {
      let (name, source) = try SecretSource.parse(entry)
      guard sources[name] == nil else {
        throw ConfigurationError(code: "secret_option_invalid", message: "secret \(name) is given twice")
      }
      sources[name] = source
    }
    return sources
  }

  func drainDelay() throws -> Duration {
    guard let text = drainDelaySeconds.map(String.init) ?? environmentFallback(nil, "REMIT_DRAIN_DELAY") else {
      return .zero
    }
    guard let seconds = Int(text.trimmingCharacters(in: .whitespaces)), (0...120).contains(seconds) else {
      throw ConfigurationError(code: "drain_delay_invalid", message: "the drain delay must be 0 to 120 seconds")
    }
    return .seconds(seconds)
  }

  func ledgerTimeout() throws -> Duration {
    guard let text = ledgerTimeoutMilliseconds.map(String.init) ?? environmentFallback(nil, "REMIT_LEDGER_TIMEOUT_MS")
    else { return .milliseconds(500) }
    guard let milliseconds = Int(text), (10...30_000).contains(milliseconds) else {
      throw ConfigurationError(
        code: "ledger_timeout_invalid", message: "the ledger timeout must be 10 to 30000 milliseconds")
    }
    return .milliseconds(milliseconds)
  }

  func readAPIKey() throws -> String {
    // A missing key is reported by ControlPlaneConnection.validate with the flags to use.
    try resolveAPIKey(flag: apiKey, file: apiKeyFile) ?? ""
  }
}

/// The API key from `--api-key`, else the file named by `--api-key-file` / REMIT_API_KEY_FILE,
/// else REMIT_API_KEY; nil when none is given.
func resolveAPIKey(flag: String?, file: String?) throws(ConfigurationError) -> String? {
  if let flag { return flag }
  if let path = environmentFallback(file, "REMIT_API_KEY_FILE") {
    guard let data = FileManager.default.contents(atPath: path), data.count <= 1024,
      let text = String(data: data, encoding: .utf8)
    else {
      throw ConfigurationError(code: "api_key_unreadable", message: "cannot read an API key from \(path)")
    }
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
  }
  return environmentFallback(nil, "REMIT_API_KEY")
}

/// The host name (the pod name in Kubernetes), for the default instance id.
func hostName() -> String {
  var buffer = [CChar](repeating: 0, count: 256)
  guard gethostname(&buffer, buffer.count - 1) == 0 else { return "remit-authorizer" }
  let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  return name.isEmpty ? "remit-authorizer" : name
}

func parseLogLevel(_ text: String) throws -> Logger.Level {
  guard let level = Logger.Level(rawValue: text.lowercased()) else {
    throw ValidationError("log level must be one of trace, debug, info, notice, warning, error, critical")
  }
  return level
}

func printError(_ message: String) {
  var standardError = StandardError()
  print(message, to: &standardError)
}

struct StandardError: TextOutputStream {
  mutating func write(_ string: String) {
    var string = string
    string.withUTF8 { buffer in
      guard let base = buffer.baseAddress else { return }
      _ = Glibc.write(STDERR_FILENO, base, buffer.count)
    }
  }
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif
