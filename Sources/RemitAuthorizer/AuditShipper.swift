import Foundation
import Logging
import ServiceLifecycle

/// Sends decision events to the control plane in batches (`POST /v1/audit/events`). While the
/// control plane cannot be reached, batches go to the on-disk spool instead, and the spool is sent
/// oldest first once it answers again. The control plane ignores an event it already has, so a
/// batch resent after a lost answer is stored once.
public struct AuditShipper: Service {
  let client: ControlPlaneClient
  let queue: AuditQueue
  let configuration: AuditShippingConfiguration
  let spoolDirectory: String
  let logger: Logger
  /// How often the queue is looked at.
  let tick: Duration

  public init(
    client: ControlPlaneClient, queue: AuditQueue, logger: Logger, tick: Duration = .milliseconds(100)
  ) {
    self.client = client
    self.queue = queue
    self.configuration = client.connection.audit
    self.spoolDirectory = (client.connection.stateDirectory as NSString).appendingPathComponent("audit-spool")
    self.logger = logger
    self.tick = tick
  }

  public func run() async throws {
    var spool = AuditSpool(directory: spoolDirectory, capacityBytes: configuration.spoolBytes)
    if !spool.isEmpty {
      logger.info(
        "audit spool has events from an earlier run; sending them first",
        metadata: ["batches": "\(spool.files.count)", "bytes": "\(spool.totalBytes)"])
    }
    var retryAt: ContinuousClock.Instant?
    var failures = 0
    var lastFlush = ContinuousClock.now
    while !Task.isCancelledOrShuttingDown {
      try? await Task.sleep(for: tick)
      let now = ContinuousClock.now
      let waiting = queue.count
      let flushDue =
        waiting >= configuration.batchSize || (waiting > 0 && now - lastFlush >= configuration.flushInterval)
      if let retryAt, now < retryAt {
        // Offline: memory stays small; what waits goes to disk.
        if flushDue {
          spoolWaiting(&spool)
          lastFlush = now
        }
        continue
      }
      guard flushDue || !spool.isEmpty else { continue }
      lastFlush = now
      // After a failure, a short deadline: the HTTP client retries a refused connection until then.
      let timeout: Duration? = failures > 0 ? min(client.connection.requestTimeout, .seconds(2)) : nil
      if await sendSpool(&spool, timeout: timeout), await sendWaiting(&spool, timeout: timeout) {
        if failures > 0 { logger.notice("audit events flowing to the control plane again") }
        failures = 0
        retryAt = nil
      } else {
        failures += 1
        if failures == 1 {
          logger.warning(
            "cannot send audit events; spooling them to disk until the control plane answers",
            metadata: ["spool": "\(spoolDirectory)"])
        }
        let pause = min(0.5 * pow(2, Double(min(failures - 1, 10))), client.connection.maximumBackoff.seconds)
        retryAt = now + .seconds(pause)
      }
    }
    // Shutting down: one last attempt while the control plane answers, else the spool keeps them.
    if retryAt == nil {
      _ = await sendSpool(&spool)
      _ = await sendWaiting(&spool)
    } else {
      spoolWaiting(&spool)
    }
    let statistics = queue.statistics
    logger.info(
      "audit shipper stopped",
      metadata: [
        "sent": "\(statistics.sent)", "spooled": "\(statistics.spooled)", "dropped": "\(statistics.dropped)",
        "spool_batches": "\(spool.files.count)",
      ])
  }

  /// Sends spooled batches oldest first; false at the first one that cannot be sent now.
  func sendSpool(_ spool: inout AuditSpool, timeout: Duration? = nil) async -> Bool {
    while let (name, events, batch) = spool.oldest() {
      guard let batch else {
        queue.record { $0.dropped += events }
        logger.error("unreadable audit spool file removed", metadata: ["file": "\(name)", "events": "\(events)"])
        continue
      }
      do {
        try await client.sendAudit(eventsJSONArray: batch, timeout: timeout)
        queue.record { $0.sent += events }
        spool.remove(name)
      } catch {
        guard error.isPermanent else { return false }
        queue.record { $0.dropped += events }
        spool.remove(name)
        logger.error(
          "control plane refused a spooled audit batch; dropped",
          metadata: ["events": "\(events)", "error": "\(error)"])
      }
    }
    return true
  }

  /// Sends what waits in memory; on the first failure, that batch and the rest go to the spool.
  func sendWaiting(_ spool: inout AuditSpool, timeout: Duration? = nil) async -> Bool {
    while true {
      let events = queue.take(upTo: configuration.batchSize)
      guard !events.isEmpty else { return true }
      guard let batch = encode(events) else { continue }
      do {
        try await client.sendAudit(eventsJSONArray: batch, timeout: timeout)
        queue.record { $0.sent += events.count }
      } catch {
        if error.isPermanent {
          queue.record { $0.dropped += events.count }
          logger.error(
            "control plane refused an audit batch; dropped",
            metadata: ["events": "\(events.count)", "error": "\(error)"])
          continue
        }
        put(batch, events: events.count, in: &spool)
        spoolWaiting(&spool)
        return false
      }
    }
  }

  /// Moves everything waiting in memory to the spool.
  func spoolWaiting(_ spool: inout AuditSpool) {
    while true {
      let events = queue.take(upTo: configuration.batchSize)
      guard !events.isEmpty else { return }
      guard let batch = encode(events) else { continue }
      put(batch, events: events.count, in: &spool)
    }
  }

  func put(_ batch: [UInt8], events: Int, in spool: inout AuditSpool) {
    if spool.append(batch, events: events) {
      queue.record { $0.spooled += events }
    } else {
      queue.record { $0.dropped += events }
      logger.warning(
        "audit spool full or unwritable; events dropped",
        metadata: ["events": "\(events)", "spool_bytes": "\(spool.totalBytes)", "limit": "\(spool.capacityBytes)"])
    }
  }

  func encode(_ events: [AuditEvent]) -> [UInt8]? {
    do {
      return Array(try JSONEncoder().encode(events))
    } catch {
      queue.record { $0.dropped += events.count }
      logger.error("cannot encode audit events; dropped", metadata: ["error": "\(error)"])
      return nil
    }
  }
}
