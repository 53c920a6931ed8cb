import ArgumentParser
import Logging
import RemitAuthorizer

struct ServeCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "serve",
    abstract: "Run the mesh authorizer: Envoy ext_authz v3 gRPC on --listen, health on --admin-listen.",
    discussion: """
      Every flag can also be set with an environment variable, shown in brackets. The policy file \
      is reloaded when it changes; a change that does not validate is logged and the last good \
      policy stays in force. Plaintext gRPC is allowed on a loopback address only.
      """
  )

  @Option(name: .long, help: "Policy file, YAML or JSON. [REMIT_POLICY]")
  var policy: String?

  @Option(name: .long, help: "gRPC listen address HOST:PORT (default 127.0.0.1:9191). [REMIT_LISTEN]")
  var listen: String?

  @Option(
    name: .customLong("admin-listen"),
    help: "Admin HTTP listen address for /healthz and /readyz (default 127.0.0.1:9901). [REMIT_ADMIN_LISTEN]"
  )
  var adminListen: String?

  @Option(
    name: .customLong("log-level"), help: "trace, debug, info, warning or error (default info). [REMIT_LOG_LEVEL]")
  var logLevel: String?

  func run() async throws {
    guard let policyFile = environmentFallback(policy, "REMIT_POLICY") else {
      throw ValidationError("--policy FILE is required (or set REMIT_POLICY)")
    }
    let level = try parseLogLevel(environmentFallback(logLevel, "REMIT_LOG_LEVEL") ?? "info")
    let configuration: AuthorizerConfiguration
    do {
      configuration = AuthorizerConfiguration(
        policyFile: policyFile,
        listen: try ListenAddress(parsing: environmentFallback(listen, "REMIT_LISTEN") ?? "127.0.0.1:9191"),
        adminListen: try ListenAddress(
          parsing: environmentFallback(adminListen, "REMIT_ADMIN_LISTEN") ?? "127.0.0.1:9901")
      )
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
