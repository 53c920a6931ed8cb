import GRPCCore
import GRPCNIOTransportHTTP2
import Hummingbird
import Logging
import RemitEngine
import ServiceLifecycle
import Synchronization

/// The mesh authorizer: the gRPC server (ext_authz + health), the policy source and the admin
/// listener, run together in a `ServiceGroup` with graceful shutdown on SIGTERM and SIGINT.
public struct Authorizer: Sendable {
  public let configuration: AuthorizerConfiguration
  public let store: SnapshotStore
  public let logger: Logger
  let decisionLog: DecisionLog
  let grpcReady = ReadinessFlag()
  /// Decision events on their way to the control plane; nil on a policy file.
  public let auditQueue: AuditQueue?
  /// Sync state with the control plane (unused on a policy file).
  public let syncStatus = SyncStatus()
  public let metrics = AuthorizerMetrics()
  /// The transport key once loaded, or why brokering is off.
  public let broker = CredentialBroker()
  /// Static secrets by name: from files or variables, or sealed by the control plane.
  public let secrets = SecretStore()

  public init(configuration: AuthorizerConfiguration, logger: Logger, decisionLogger: Logger? = nil) throws {
    try configuration.validate()
    self.configuration = configuration
    self.store = SnapshotStore()
    self.logger = logger
    if case .controlPlane(let connection) = configuration.policySource {
      auditQueue = AuditQueue(capacity: connection.audit.memoryCapacity)
    } else {
      auditQueue = nil
    }
    self.decisionLog = DecisionLog(logger: decisionLogger ?? logger, audit: auditQueue, metrics: metrics)
  }

  /// Loads the policy (an invalid file at start is fatal), then serves until shutdown.
  /// `onListening` receives the bound gRPC port (useful with port 0).
  // Not optimised: Swift 6.3.1's release build crashes in LLVM's coroutine splitting on this
  // function (signal 11 in CoroSplit); it runs once per process, so nothing is lost.
  @_optimize(none)
  public func run(onListening: @Sendable @escaping (Int) -> Void = { _ in }) async throws {
    // Services stop in reverse order: the gRPC server first (in-flight checks finish), then the
    // audit shipper (which flushes), then the policy source, and the admin listener last.
    var services: [any Service] = []
    var controlPlaneClient: ControlPlaneClient?
    let ledger: any DelegationLedger
    if configuration.compactMemory { StartupMemory.limitMallocArenas() }
    await loadTransportKey()
    switch configuration.policySource {
    case .file(let path):
      secrets.replaceAll(try SecretStore.read(configuration.staticSecrets))
      if !configuration.staticSecrets.isEmpty {
        logger.info("static secrets read", metadata: ["names": .array(secrets.names.map { .string($0) })])
      }
      ledger = InMemoryDelegationLedger()
      let (snapshot, loadedBytes) = try PolicyFileSource.load(path: path)
      store.replace(with: snapshot)
      logger.info(
        "policy loaded",
        metadata: ["path": "\(path)", "policy_version": "\(snapshot.version)", "agents": "\(snapshot.agentCount)"]
      )
      services.append(
        PolicyFileSource(
          path: path, store: store, pollInterval: configuration.policyPollInterval, logger: logger,
          loadedBytes: loadedBytes))
    case .controlPlane(let connection):
      let client = ControlPlaneClient(connection: connection)
      controlPlaneClient = client
      ledger = ControlPlaneLedger(client: client)
      let source = ControlPlaneSource(
        client: client, store: store, status: syncStatus, logger: logger, broker: broker, secrets: secrets)
      await source.loadInitial()
      services.append(source)
      if let auditQueue {
        services.append(AuditShipper(client: client, queue: auditQueue, logger: logger))
      }
    }

    let transportSecurity: HTTP2ServerTransport.Posix.TransportSecurity
    if let tls = configuration.tls {
      let reloader = try ListenerTLS.reloader(tls, logger: logger)
      var trust: ClientTrust?
      if tls.requireClientCertificate, let clientCA = tls.clientCA {
        let clientTrust = try ClientTrust(path: clientCA, allowedNames: tls.allowedClientNames, logger: logger)
        services.append(ClientTrustReloader(trust: clientTrust, interval: tls.reloadInterval))
        trust = clientTrust
      }
      transportSecurity = try ListenerTLS.transportSecurity(tls, reloader: reloader, trust: trust)
      services.append(reloader)
    } else {
      transportSecurity = .plaintext
    }
    let transport = HTTP2ServerTransport.Posix(
      address: configuration.listen.socketAddress,
      transportSecurity: transportSecurity
    )
    let server = GRPCServer(
      transport: transport,
      services: [
        CheckService(
          store: store, decisionLog: decisionLog, ledger: ledger,
          issuer: CredentialIssuer(broker: broker, secrets: secrets, issuer: configuration.instanceID)),
        HealthService(store: store, readiness: grpcReady),
      ]
    )
    services.append(
      GRPCServerService(server: server, readiness: grpcReady, drainDelay: configuration.drainDelay, logger: logger))
    if let admin = configuration.adminListen {
      let following: Bool
      if case .controlPlane = configuration.policySource { following = true } else { following = false }
      // First in the list, so it stops last: /readyz answers "not ready" throughout shutdown.
      services.insert(
        AdminServer.application(
          address: admin, store: store, grpcReady: grpcReady, logger: logger,
          metrics: MetricsSources(
            metrics: metrics, sync: following ? syncStatus : nil, audit: auditQueue), broker: broker), at: 0)
    }
    let readiness = grpcReady
    let listen = configuration.listen
    let compactMemory = configuration.compactMemory
    let log = logger
    services.append(
      AfterStart {
        let address = try await transport.listeningAddress
        let port = address.ipv4?.port ?? address.ipv6?.port ?? listen.port
        readiness.set(true)
        let released = compactMemory ? StartupMemory.release() : 0
        log.info(
          "remit serve ready",
          metadata: [
            "grpc_port": "\(port)", "listen": "\(listen.host)", "startup_code_released_mib": "\(released >> 20)",
          ])
        onListening(port)
      }
    )
    let group = ServiceGroup(
      configuration: .init(
        services: services.map { .init(service: $0) },
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger
      )
    )
    do {
      try await group.run()
    } catch {
      await controlPlaneClient?.shutdown()
      throw error
    }
    // HTTPClient must be shut down before it is released.
    await controlPlaneClient?.shutdown()
  }
}

extension Authorizer {
  /// The per-pod transport key; without a writable state directory brokering is disabled, loudly.
  func loadTransportKey() async {
    guard let directory = configuration.stateDirectory else {
      broker.disable(ConfigurationError(code: "state_dir_missing", message: "no --state-dir for the transport key"))
      logger.warning("credential brokering disabled: no --state-dir for the transport key")
      return
    }
    do throws(ConfigurationError) {
      let key = try TransportKey.loadOrCreate(directory: directory)
      do {
        try await broker.enable(key)
      } catch {
        throw ConfigurationError(code: "transport_key_invalid", message: "the signing key is unusable: \(error)")
      }
      logger.info("transport key ready", metadata: ["kid": "\(key.keyID)", "state_dir": "\(directory)"])
    } catch {
      broker.disable(error)
      logger.error(
        "credential brokering disabled: the transport key cannot be created or read; requests that need a credential will be denied",
        metadata: ["error_code": "\(error.code)", "error": "\(error.message)"])
    }
  }
}

/// Runs the gRPC server as a service; graceful shutdown turns readiness off first (so Kubernetes
/// and health-checking Envoys stop routing here), keeps serving for `drainDelay` while they
/// notice, then lets in-flight checks finish and stops.
struct GRPCServerService<Transport: ServerTransport>: Service {
  let server: GRPCServer<Transport>
  let readiness: ReadinessFlag
  let drainDelay: Duration
  let logger: Logger

  func run() async throws {
    try await withThrowingTaskGroup(of: Bool.self) { group in
      group.addTask {
        try await server.serve()
        return true
      }
      group.addTask {
        // Cancelled when serving ended on its own (an error): then there is nothing to drain.
        do { try await gracefulShutdown() } catch { return false }
        readiness.beginDraining()
        if drainDelay > .zero {
          logger.info(
            "shutting down: health is NOT_SERVING; still answering checks while callers notice",
            metadata: ["drain_delay": "\(drainDelay)"])
          try? await Task.sleep(for: drainDelay)
        }
        server.beginGracefulShutdown()
        return false
      }
      // Serving ends after the shutdown task asked it to, or on its own with an error (rethrown).
      while let servingEnded = try await group.next() {
        if servingEnded { group.cancelAll() }
      }
    }
  }
}

/// A one-shot task run beside the others, then idle until shutdown.
struct AfterStart: Service {
  let body: @Sendable () async throws -> Void

  init(_ body: @escaping @Sendable () async throws -> Void) {
    self.body = body
  }

  func run() async throws {
    try await body()
    try? await gracefulShutdown()
  }
}

/// Whether the gRPC listener is up; readiness needs it and a snapshot. Once shutdown begins it
/// stays down (draining), which health watchers are told before their streams end.
final class ReadinessFlag: Sendable {
  private let value = Mutex((up: false, draining: false))

  func set(_ ready: Bool) { value.withLock { $0.up = ready && !$0.draining } }

  func beginDraining() { value.withLock { $0 = (false, true) } }

  var isSet: Bool { value.withLock { $0.up } }

  var isDraining: Bool { value.withLock { $0.draining } }
}
