import Foundation
import Logging
import RemitEngine
import ServiceLifecycle
import Synchronization

/// What the authorizer knows about its sync with the control plane, for readiness, reports and
/// metrics.
public final class SyncStatus: Sendable {
  public struct State: Sendable, Equatable {
    /// The control plane's version of the snapshot in force.
    public var appliedVersion: Int64?
    /// When the control plane last confirmed (or delivered) the snapshot in force.
    public var lastSync: Date?
    /// Whether the snapshot in force came from the disk cache and has not been confirmed since.
    public var fromCache = false
    public var failures = 0
    /// A version that arrived but did not validate here, so the long-poll waits past it.
    public var rejectedVersion: Int64?
  }

  private let state = Mutex(State())

  public init() {}

  public var current: State { state.withLock { $0 } }

  func update(_ body: (inout State) -> Void) { state.withLock { body(&$0) } }
}

/// `remit serve --control-plane`: follows the tenant's snapshot by long-poll, applies each new
/// version atomically (a whole compiled snapshot swapped in), keeps the last good one on disk,
/// and reports itself to the control plane after each change and on a heartbeat.
public struct ControlPlaneSource: Service {
  let client: ControlPlaneClient
  let connection: ControlPlaneConnection
  let store: SnapshotStore
  let cache: SnapshotCache
  public let status: SyncStatus
  let logger: Logger
  let broker: CredentialBroker?
  let secrets: SecretStore?
  let secretsFailing = FailureFlag()

  public init(
    client: ControlPlaneClient, store: SnapshotStore, status: SyncStatus = SyncStatus(), logger: Logger,
    broker: CredentialBroker? = nil, secrets: SecretStore? = nil
  ) {
    self.client = client
    self.connection = client.connection
    self.store = store
    self.cache = SnapshotCache(stateDirectory: client.connection.stateDirectory)
    self.status = status
    self.logger = logger
    self.broker = broker
    self.secrets = secrets
  }

  /// Before serving: the snapshot from the control plane, or else the one on disk. Neither is
  /// fatal; the authorizer then starts not ready and denies until a snapshot arrives.
  public func loadInitial() async {
    do {
      // Short: an unreachable control plane must not hold back the start from the cache.
      let fetch = try await client.fetchSnapshot(
        knownVersion: nil, waitSeconds: 0, timeout: min(connection.requestTimeout, .seconds(3)))
      if case .document(let bytes, let version) = fetch {
        apply(bytes, version: version)
        if store.current != nil { return }
      }
    } catch {
      status.update { $0.failures += 1 }
      logger.warning(
        "control plane unreachable at start; trying the cached snapshot",
        metadata: ["control_plane": "\(connection.baseURL)", "error": "\(error)"])
    }
    do {
      let (snapshot, _) = try cache.load()
      store.replace(with: snapshot)
      status.update {
        $0.appliedVersion = Int64(snapshot.version)
        $0.fromCache = true
      }
      logger.notice(
        "policy loaded from the cached snapshot; following the control plane when it returns",
        metadata: [
          "path": "\(cache.path)", "policy_version": "\(snapshot.version)", "agents": "\(snapshot.agentCount)",
        ])
    } catch {
      logger.error(
        "no policy snapshot: the control plane is unreachable and there is no usable cached snapshot; denying until one arrives",
        metadata: ["path": "\(cache.path)", "error": "\(error)"])
    }
  }

  public func run() async throws {
    try await cancelWhenGracefulShutdown {
      await withTaskGroup(of: Void.self) { group in
        group.addTask { await self.follow() }
        group.addTask { await self.heartbeat() }
        await group.waitForAll()
      }
    }
    await client.shutdown()
  }

  /// The long-poll loop: a 304 confirms the snapshot in force, a document replaces it.
  func follow() async {
    var failures = 0
    while !Task.isCancelled {
      let state = status.current
      let known = state.rejectedVersion ?? state.appliedVersion
      do {
        // After a failure, quick polls without a wait find the control plane's return at once;
        // a long-poll would keep retrying the connection until its whole deadline.
        let fetch =
          failures == 0
          ? try await client.fetchSnapshot(
            knownVersion: known, waitSeconds: known == nil ? 0 : connection.longPollSeconds)
          : try await client.fetchSnapshot(
            knownVersion: known, waitSeconds: 0, timeout: min(connection.requestTimeout, .seconds(3)))
        if failures > 0 {
          logger.notice("control plane reachable again", metadata: ["control_plane": "\(connection.baseURL)"])
        }
        failures = 0
        switch fetch {
        case .notModified:
          status.update {
            $0.lastSync = Date()
            $0.fromCache = false
          }
        case .document(let bytes, let version):
          apply(bytes, version: version)
          StartupMemory.releaseAgainIfArmed()  // the compile's temporaries are gone only now
          await sendReport()
        }
      } catch {
        if Task.isCancelled { return }
        failures += 1
        status.update { $0.failures += 1 }
        if failures == 1 || failures.isMultiple(of: 30) {
          logger.warning(
            "control plane unreachable; enforcing the last good snapshot",
            metadata: [
              "control_plane": "\(connection.baseURL)", "error": "\(error)", "consecutive_failures": "\(failures)",
              "policy_version": "\(status.current.appliedVersion.map(String.init) ?? "none")",
            ])
        }
        try? await Task.sleep(for: backoff(failures))
      }
    }
  }

  /// Registers at once, then reports every heartbeat interval.
  func heartbeat() async {
    while !Task.isCancelled {
      await sendReport()
      try? await Task.sleep(for: connection.heartbeatInterval)
    }
  }

  func sendReport() async {
    let state = status.current
    let report = AuthorizerReport(
      policyVersion: state.appliedVersion.map(String.init),
      lastSync: state.lastSync.map { $0.formatted(.iso8601) },
      remitVersion: ControlPlaneClient.remitVersion,
      keys: broker?.key.map(AuthorizerPublicKeys.init))
    do {
      try await client.report(report)
    } catch {
      logger.debug("report to the control plane failed", metadata: ["error": "\(error)"])
      return
    }
    await refreshSecrets()
  }

  /// Fetches the tenant's secrets sealed to this pod's key (after each report, so a secret
  /// written to the control plane arrives within a heartbeat) and opens them. A secret that does
  /// not open is left out: a request needing it is denied `credential_unavailable`.
  func refreshSecrets() async {
    guard let secrets, let key = broker?.key else { return }
    do {
      let sealed = try await client.fetchSealedSecrets()
      var values: [String: String] = [:]
      var unopened: [String] = []
      for secret in sealed.prefix(ControlPlaneSource.maximumSecrets) {
        if let value = secret.open(with: key.agreement, instance: connection.instanceID) {
          values[secret.name] = value
        } else {
          unopened.append(secret.name)
        }
      }
      if !unopened.isEmpty {
        logger.error(
          "sealed secrets that do not open with this pod's transport key were left out",
          metadata: ["names": .array(unopened.prefix(20).map { .string($0) })])
      }
      secrets.replaceAll(values)
      if secretsFailing.set(false) {
        logger.notice("sealed secrets received again", metadata: ["count": "\(values.count)"])
      }
    } catch {
      // Keep the secrets already opened: the control plane being away does not revoke them.
      if !secretsFailing.set(true) {
        logger.warning(
          "cannot fetch sealed secrets; keeping the ones already received",
          metadata: ["error_code": "\(error.code)", "error": "\(error.message)"])
      }
    }
  }

  static let maximumSecrets = 10_000

  /// Compiles and swaps in a document; a document that does not validate here is logged and the
  /// last good snapshot stays.
  func apply(_ bytes: [UInt8], version: Int64) {
    let snapshot: PolicySnapshot
    do {
      snapshot = try PolicySnapshot(bytes: bytes, format: .json)
    } catch {
      status.update {
        $0.rejectedVersion = version
        $0.failures += 1
      }
      logger.error(
        "snapshot from the control plane rejected; keeping the last good snapshot",
        metadata: [
          "policy_version": "\(version)", "error_code": "\(error.code)",
          "errors": .array(error.issues.prefix(20).map { .string($0.description) }),
        ])
      return
    }
    // On disk first, so the cache is never older than what is enforced.
    do {
      try cache.save(bytes)
    } catch {
      logger.error(
        "cannot write the snapshot cache; a restart while the control plane is down will start without policy",
        metadata: ["path": "\(cache.path)", "error": "\(error)"])
    }
    store.replace(with: snapshot)
    status.update {
      $0.appliedVersion = version
      $0.rejectedVersion = nil
      $0.lastSync = Date()
      $0.fromCache = false
    }
    logger.info(
      "policy applied from the control plane",
      metadata: ["policy_version": "\(version)", "agents": "\(snapshot.agentCount)"])
  }

  /// 0.5 s doubling to the configured maximum, with up to 25% jitter so replicas spread out.
  func backoff(_ failures: Int) -> Duration {
    let base = min(0.5 * pow(2, Double(min(failures - 1, 10))), connection.maximumBackoff.seconds)
    return .seconds(base * Double.random(in: 0.75...1.0))
  }
}

extension Duration {
  var seconds: Double {
    let (seconds, attoseconds) = components
    return Double(seconds) + Double(attoseconds) / 1e18
  }
}

/// A flag whose setter returns the previous value, so a repeated failure is logged once.
final class FailureFlag: Sendable {
  private let value = Mutex(false)

  /// Sets the flag and returns what it was.
  func set(_ new: Bool) -> Bool {
    value.withLock { value in
      defer { value = new }
      return value
    }
  }
}
