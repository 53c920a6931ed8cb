import ArgumentParser
import Logging
import RemitAuthorizer
import RemitControlPlane

struct ControlPlaneCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "control-plane",
    abstract: "Run the control plane: the /v1 API for agents, missions and policy, and policy snapshots.",
    discussion: """
      Every flag can also be set with an environment variable, shown in brackets. Migrations run on \
      start. On the first start with an empty store it creates tenant "default" and an admin API \
      key: the value of REMIT_BOOTSTRAP_ADMIN_KEY if set, otherwise a random key printed once to \
      standard error. Only the key's SHA-256 is stored.
      """
  )

  @Option(
    name: .long,
    help: "YAML file of settings; keys are the variables' names without REMIT_, e.g. tls-cert. [REMIT_CONFIG]")
  var config: String?

  @Option(name: .long, help: "HTTP listen address HOST:PORT (default 127.0.0.1:8080). [REMIT_CONTROL_PLANE_LISTEN]")
  var listen: String?

  @Option(
    name: .long,
    help:
      "Store: sqlite:PATH, sqlite::memory: or postgres://USER:PASSWORD@HOST:PORT/DB (default \(DatabaseLocation.defaultValue)). [REMIT_DATABASE]"
  )
  var database: String?

  @Option(
    name: .customLong("secrets-key-file"),
    help:
      "File with the AES-256 key that encrypts secrets at rest (base64, one line); created with mode 0600 when missing. Without it secret writes are refused. [REMIT_SECRETS_KEY_FILE]"
  )
  var secretsKeyFile: String?

  @Option(
    name: .customLong("log-level"), help: "trace, debug, info, warning or error (default info). [REMIT_LOG_LEVEL]")
  var logLevel: String?

  @Flag(
    name: .customLong("dashboard-secure-cookies"),
    help:
      "Mark the /ui dashboard's cookies Secure, for a control plane reached over https through a proxy. [REMIT_DASHBOARD_SECURE_COOKIES=true]"
  )
  var dashboardSecureCookies = false

  func run() async throws {
    try ConfigurationFile.load(config)
    let level = try parseLogLevel(environmentFallback(logLevel, "REMIT_LOG_LEVEL") ?? "info")
    let address: ListenAddress
    let location: DatabaseLocation
    do {
      address = try ListenAddress(
        parsing: environmentFallback(listen, "REMIT_CONTROL_PLANE_LISTEN") ?? "127.0.0.1:8080")
      location = try DatabaseLocation(
        parsing: environmentFallback(database, "REMIT_DATABASE") ?? DatabaseLocation.defaultValue)
    } catch {
      printError("remit control-plane: \(error)")
      throw ExitCode(2)
    }
    var logger = Logger(label: "remit.control-plane") { JSONLogHandler(label: $0) }
    logger.logLevel = level
    var controlPlane = ControlPlane(
      host: address.host,
      port: address.port,
      database: location,
      bootstrapAdminKey: environmentFallback(nil, "REMIT_BOOTSTRAP_ADMIN_KEY"),
      secretsKeyFile: environmentFallback(secretsKeyFile, "REMIT_SECRETS_KEY_FILE"),
      logger: logger
    )
    let secureFromEnvironment = environmentFallback(nil, "REMIT_DASHBOARD_SECURE_COOKIES")?.lowercased()
    controlPlane.dashboard.secureCookies =
      dashboardSecureCookies || ["1", "true", "yes"].contains(secureFromEnvironment ?? "")
    do {
      try await controlPlane.run(announce: { issued in
        printError("remit control-plane: created tenant default; admin API key (shown once, only its hash is stored):")
        printError(issued.key)
      })
    } catch let error as ControlPlaneError {
      logger.critical("cannot start", metadata: ["error_code": "\(error.code)", "error": "\(error.message)"])
      throw ExitCode(1)
    } catch let error as ControlPlaneConfigurationError {
      logger.critical("cannot start", metadata: ["error_code": "\(error.code)", "error": "\(error.message)"])
      throw ExitCode(1)
    }
  }
}
