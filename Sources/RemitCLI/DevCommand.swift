import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NIOCore
import RemitAuthorizer
import RemitControlPlane
import RemitEngine
import ServiceLifecycle

/// `remit dev`: the whole product on loopback in one process, for a first look. A control plane on
/// SQLite (with the dashboard), an authorizer following it, and the example policy seeded.
struct DevCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dev",
    abstract: "Run a control plane and an authorizer on loopback with demo agents and missions.",
    discussion: """
      Keeps its state in --dir (default .remit-dev): the SQLite store, the admin and authorizer API \\
      keys (files readable by you only), the authorizer's snapshot cache and audit spool. On the \\
      first run the store is seeded with the example policy (agents checkout-bot, research-bot, \\
      planner, batch-reporter; missions checkout and research). Delete the directory to start over. \\
      Loopback only and plaintext: not for production (see docs/control-plane.md).
      """
  )

  @Option(name: .long, help: "State directory (default .remit-dev). [REMIT_DEV_DIR]")
  var dir: String?

  @Option(name: .long, help: "Control plane and dashboard HOST:PORT (default 127.0.0.1:8080).")
  var listen: String = "127.0.0.1:8080"

  @Option(name: .customLong("authorizer-listen"), help: "Authorizer gRPC HOST:PORT (default 127.0.0.1:9191).")
  var authorizerListen: String = "127.0.0.1:9191"

  @Option(name: .customLong("admin-listen"), help: "Authorizer admin HOST:PORT (default 127.0.0.1:9901).")
  var adminListen: String = "127.0.0.1:9901"

  @Option(
    name: .customLong("log-level"),
    help: "trace, debug, info (shows every decision), notice or warning (default notice). [REMIT_LOG_LEVEL]")
  var logLevel: String?

  func run() async throws {
    let level = try parseLogLevel(environmentFallback(logLevel, "REMIT_LOG_LEVEL") ?? "notice")
    let directory = environmentFallback(dir, "REMIT_DEV_DIR") ?? ".remit-dev"
    let controlPlaneAddress: ListenAddress
    let authorizerAddress: ListenAddress
    let adminAddress: ListenAddress
    do {
      controlPlaneAddress = try ListenAddress(parsing: listen)
      authorizerAddress = try ListenAddress(parsing: authorizerListen)
      adminAddress = try ListenAddress(parsing: adminListen)
    } catch {
      printError("remit dev: \(error)")
      throw ExitCode(2)
    }
    guard controlPlaneAddress.isLoopback, authorizerAddress.isLoopback, adminAddress.isLoopback else {
      printError("remit dev: listens on loopback only (127.0.0.1, ::1 or localhost); use remit serve and control-plane")
      throw ExitCode(2)
    }
    var logger = Logger(label: "remit.dev") { JSONLogHandler(label: $0, sink: .standardError) }
    logger.logLevel = level

    try FileManager.default.createDirectory(
      atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    var options = ControlPlaneStore.Options()
    options.secretsKey = try SecretsKey.load(fileAt: directory + "/secrets.key")
    let store = try await ControlPlane.openStore(
      .sqliteFile(directory + "/remit.db"), logger: logger, options: options)
    let keys: DevKeys
    do {
      keys = try await DevKeys.prepare(store: store, directory: directory)
      try await Self.seedIfEmpty(store: store, logger: logger)
    } catch {
      try? await store.close()
      throw error
    }

    let controlPlanePort = AsyncStream.makeStream(of: Int.self)
    let application = ControlPlane.application(
      store: store, host: controlPlaneAddress.host, port: controlPlaneAddress.port, logger: logger,
      onServerRunning: { channel in
        controlPlanePort.continuation.yield(channel.localAddress?.port ?? controlPlaneAddress.port)
        controlPlanePort.continuation.finish()
      })
    let controlPlaneGroup = ServiceGroup(
      configuration: .init(services: [application], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))

    do {
      try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await controlPlaneGroup.run() }
        var ports = controlPlanePort.stream.makeAsyncIterator()
        guard let port = await ports.next() else { return }
        let baseURL = "http://\(controlPlaneAddress.host):\(port)"
        let authorizer = try Authorizer(
          configuration: AuthorizerConfiguration(
            policySource: .controlPlane(
              ControlPlaneConnection(
                baseURL: baseURL, apiKey: keys.authorizer, instanceID: "remit-dev",
                stateDirectory: directory + "/authorizer")),
            listen: authorizerAddress,
            adminListen: adminAddress
          ),
          logger: logger
        )
        group.addTask {
          try await authorizer.run(onListening: { grpcPort in
            Self.printBanner(
              baseURL: baseURL, grpcPort: grpcPort, authorizer: authorizerAddress, admin: adminAddress, keys: keys,
              directory: directory)
          })
        }
        try await group.waitForAll()
      }
    } catch {
      try? await store.close()
      throw error
    }
    try await store.close()
  }

  static func printBanner(
    baseURL: String, grpcPort: Int, authorizer: ListenAddress, admin: ListenAddress, keys: DevKeys, directory: String
  ) {
    let keyLine =
      keys.adminKeyIsNew
      ? "Admin API key:  \(keys.admin)   (also saved in \(directory)/admin-key)"
      : "Admin API key:  in \(directory)/admin-key"
    print(
      """

      Remit is running (dev mode, loopback only; state in \(directory)/).

        Dashboard:      \(baseURL)/ui   (sign in with the admin API key)
        \(keyLine)
        Control plane:  \(baseURL)/v1   (OpenAPI document at \(baseURL)/openapi.yaml)
        Authorizer:     \(authorizer.host):\(grpcPort) (Envoy ext_authz gRPC), readiness at http://\(admin.host):\(admin.port)/readyz

      Send a request the way Envoy would, from the repository's examples:
        remit check --authorizer \(authorizer.host):\(grpcPort) --request examples/requests/tools-call-allowed.json
        remit check --authorizer \(authorizer.host):\(grpcPort) --request examples/requests/tools-call-denied.json
      Each decision appears in the dashboard under Decisions. Change a mission there (or with
      remit policy apply) and the next decision follows it. Stop with Ctrl-C.

      """)
    // Standard output is a pipe under tests and tools; the banner must not wait in a buffer.
    fflush(nil)
  }

  /// The example policy, seeded once into an empty tenant.
  static func seedIfEmpty(store: ControlPlaneStore, logger: Logger) async throws {
    let tenant = ControlPlaneStore.defaultTenant
    guard try await store.agents(tenant: tenant).isEmpty, try await store.missions(tenant: tenant).isEmpty else {
      return
    }
    let document = try PolicyDocument.load(Array(DemoPolicy.yaml.utf8), format: .yaml)
    _ = try await store.replacePolicy(tenant: tenant, document, dryRun: false)
    logger.notice("seeded the example policy", metadata: ["agents": "\(document.agents?.count ?? 0)"])
  }
}

/// The dev keys, kept in files so a second `remit dev` reuses them.
struct DevKeys: Sendable {
  var admin: String
  var adminKeyIsNew: Bool
  var authorizer: String

  static func prepare(store: ControlPlaneStore, directory: String) async throws -> DevKeys {
    let adminPath = directory + "/admin-key"
    let authorizerPath = directory + "/authorizer-key"
    var admin: String
    var isNew = false
    if let issued = try await ControlPlane.bootstrap(
      store, adminKey: environmentFallback(nil, "REMIT_BOOTSTRAP_ADMIN_KEY"))
    {
      admin = issued.key
      isNew = true
      try write(admin, to: adminPath)
    } else if let saved = read(adminPath), try await store.authenticate(key: saved) != nil {
      admin = saved
    } else {
      printError(
        "remit dev: \(directory)/remit.db exists but \(adminPath) is missing; delete \(directory) to start over")
      throw ExitCode(1)
    }
    let authorizer: String
    if let saved = read(authorizerPath), try await store.authenticate(key: saved)?.role == .authorizer {
      authorizer = saved
    } else {
      authorizer = try await store.issueKey(tenant: ControlPlaneStore.defaultTenant, role: .authorizer).key
      try write(authorizer, to: authorizerPath)
    }
    return DevKeys(admin: admin, adminKeyIsNew: isNew, authorizer: authorizer)
  }

  static func read(_ path: String) -> String? {
    guard let data = FileManager.default.contents(atPath: path), data.count <= 1024 else { return nil }
    return String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  static func write(_ key: String, to path: String) throws {
    guard
      FileManager.default.createFile(
        atPath: path, contents: Data((key + "\n").utf8), attributes: [.posixPermissions: 0o600])
    else { throw ValidationError("cannot write \(path)") }
  }
}
