import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// Where the store lives: `sqlite:PATH`, `sqlite::memory:` or `postgres://…`.
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
  case sqliteFile(String)
  case sqliteMemory
  case postgres(url: String)

  public static let defaultValue = "sqlite:remit.db"

  public init(parsing text: String) throws(ControlPlaneConfigurationError) {
    if text == "sqlite::memory:" {
      self = .sqliteMemory
    } else if text.hasPrefix("sqlite:"), text.utf8.count > "sqlite:".utf8.count {
      self = .sqliteFile(String(text.dropFirst("sqlite:".count)))
    } else if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
      self = .postgres(url: text)
    } else {
      throw ControlPlaneConfigurationError(
        code: "database_invalid", message: "--database must be sqlite:PATH, sqlite::memory: or postgres://…")
    }
  }

  public var description: String {
    switch self {
    case .sqliteFile(let path): "sqlite:\(path)"
    case .sqliteMemory: "sqlite::memory:"
    // Never print the password.
    case .postgres: "postgres://…"
    }
  }
}

/// A control plane configuration that cannot start, and why.
public struct ControlPlaneConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
  public var code: String
  public var message: String

  public init(code: String, message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { "\(code): \(message)" }
}

/// `remit control-plane`: opens and migrates the store, bootstraps the first tenant, and serves
/// the API in a `ServiceGroup` that shuts down gracefully on SIGTERM and SIGINT.
public struct ControlPlane: Sendable {
  public var host: String
  public var port: Int
  public var database: DatabaseLocation
  /// REMIT_BOOTSTRAP_ADMIN_KEY: the first admin key, instead of a random one.
  public var bootstrapAdminKey: String?
  /// `--secrets-key-file` / REMIT_SECRETS_KEY_FILE: the AES-256-GCM key that seals secrets at
  /// rest, created (0600) when missing. Without it secret writes answer 503 `secrets_disabled`.
  public var secretsKeyFile: String?
  public var logger: Logger
  /// The `/ui` dashboard's sessions and cookies.
  public var dashboard = DashboardConfiguration()

  public init(
    host: String, port: Int, database: DatabaseLocation, bootstrapAdminKey: String?, secretsKeyFile: String? = nil,
    logger: Logger
  ) {
    self.host = host
    self.port = port
    self.database = database
    self.bootstrapAdminKey = bootstrapAdminKey
    self.secretsKeyFile = secretsKeyFile
    self.logger = logger
  }

  /// Opens the database and runs the migrations.
  public static func openStore(
    _ location: DatabaseLocation, logger: Logger, options: ControlPlaneStore.Options = .init()
  ) async throws -> ControlPlaneStore {
    let database: any ControlPlaneDatabase
    switch location {
    case .sqliteFile(let path): database = try await SQLiteControlPlaneDatabase(path: path, logger: logger)
    case .sqliteMemory: database = try await SQLiteControlPlaneDatabase(path: nil, logger: logger)
    case .postgres(let url):
      do {
        database = try PostgresControlPlaneDatabase(url: url, logger: logger)
      } catch {
        throw ControlPlaneConfigurationError(
          code: "database_invalid", message: "the PostgreSQL URL is not postgres://user:password@host:port/database")
      }
    }
    let store = ControlPlaneStore(database: database, options: options)
    do {
      try await store.migrate()
    } catch {
      try? await database.close()
      throw error
    }
    return store
  }

  /// On an empty store, creates tenant `default` with an admin key and returns it; nil otherwise.
  public static func bootstrap(_ store: ControlPlaneStore, adminKey: String?) async throws -> IssuedAPIKey? {
    guard try await store.tenantCount() == 0 else { return nil }
    return try await store.createTenant(ControlPlaneStore.defaultTenant, adminKey: adminKey)
  }

  /// The HTTP application; `onServerRunning` sees the bound channel (for port 0).
  public static func application(
    store: ControlPlaneStore,
    host: String,
    port: Int,
    logger: Logger,
    dashboard: DashboardConfiguration = DashboardConfiguration(),
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
  ) -> some ApplicationProtocol {
    application(
      store: store, host: host, port: port, logger: logger, dashboard: dashboard,
      signInThrottle: SignInThrottle(limit: dashboard.signInFailureLimit, windowSeconds: dashboard.signInWindow),
      onServerRunning: onServerRunning)
  }

  /// The application with a given sign-in throttle (tests give it a clock they move).
  static func application(
    store: ControlPlaneStore,
    host: String,
    port: Int,
    logger: Logger,
    dashboard: DashboardConfiguration,
    signInThrottle: SignInThrottle,
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
  ) -> some ApplicationProtocol {
    let router = ControlPlaneAPI.router(store: store)
    Dashboard.mount(on: router, store: store, configuration: dashboard, signInThrottle: signInThrottle)
    return Application(
      router: router,
      configuration: .init(address: .hostname(host, port: port), serverName: "remit-control-plane"),
      onServerRunning: onServerRunning,
      logger: logger
    )
  }

  /// Runs until SIGTERM or SIGINT. `announce` receives the bootstrap key when one was created
  /// without REMIT_BOOTSTRAP_ADMIN_KEY, so the caller can print it once.
  public func run(
    announce: @escaping @Sendable (IssuedAPIKey) -> Void,
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
  ) async throws {
    var options = ControlPlaneStore.Options()
    if let secretsKeyFile {
      options.secretsKey = try SecretsKey.load(fileAt: secretsKeyFile)
    } else {
      logger.notice("secrets are disabled; start with --secrets-key-file PATH to store them")
    }
    let store = try await Self.openStore(database, logger: logger, options: options)
    do {
      if let issued = try await Self.bootstrap(store, adminKey: bootstrapAdminKey) {
        logger.notice("created tenant default with an admin API key", metadata: ["key_id": "\(issued.id)"])
        if bootstrapAdminKey == nil { announce(issued) }
      }
      let application = Self.application(
        store: store, host: host, port: port, logger: logger, dashboard: dashboard, onServerRunning: onServerRunning)
      let group = ServiceGroup(
        configuration: .init(
          services: [application],
          gracefulShutdownSignals: [.sigterm, .sigint],
          logger: logger
        )
      )
      try await group.run()
    } catch {
      try? await store.close()
      throw error
    }
    try await store.close()
  }
}

extension ControlPlaneStore {
  public func close() async throws {
    try await database.close()
  }
}
