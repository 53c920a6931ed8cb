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

  @Option(
    name: .customLong("dashboard-sign-in-failures"),
    help:
      "Failed dashboard sign-ins one client address may make per window before it gets 429 (1 to 1000, default 10). [REMIT_DASHBOARD_SIGN_IN_FAILURES]"
  )
  var signInFailures: Int?

  @Option(
    name: .customLong("dashboard-sign-in-window"),
    help: "The sign-in throttle's window in seconds (10 to 86400, default 300). [REMIT_DASHBOARD_SIGN_IN_WINDOW]"
  )
  var signInWindow: Int?

  /// The sign-in throttle's settings from flags or the environment; nil leaves the default.
  func signInSetting(_ flag: Int?, _ variable: String, _ range: ClosedRange<Int>) throws -> Int? {
    guard let text = flag.map(String.init) ?? environmentFallback(nil, variable) else { return nil }
    guard let value = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
      throw ConfigurationError(
        code: "dashboard_sign_in_throttle_invalid",
        message: "\(variable) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
    }
    return value
  }

  func run() async throws {
    try ConfigurationFile.load(config)
    let level = try parseLogLevel(environmentFallback(logLevel, "REMIT_LOG_LEVEL") ?? "info")
    let address: ListenAddress
    let location: DatabaseLocation
    let failures: Int?
    let window: Int?
    do {
      failures = try signInSetting(signInFailures, "REMIT_DASHBOARD_SIGN_IN_FAILURES", 1...1000)
      window = try signInSetting(signInWindow, "REMIT_DASHBOARD_SIGN_IN_WINDOW", 10...86_400)
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
    if let failures { controlPlane.dashboard.signInFailureLimit = failures }
    if let window { controlPlane.dashboard.signInWindow = Int64(window) }
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
