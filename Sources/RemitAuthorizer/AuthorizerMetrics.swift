import Foundation
import Prometheus
import RemitEngine
import Synchronization

/// The authorizer's Prometheus metrics (SPEC section 9), served on the admin port's `/metrics`.
/// Labels are low-cardinality enums only: never an agent, a tool or a path.
public final class AuthorizerMetrics: Sendable {
  public let registry = PrometheusCollectorRegistry()

  private struct DecisionKey: Hashable {
    var verdict: Verdict
    var reason: ReasonCode?
    var kind: RequestKind?
    var mode: AgentMode?
  }

  /// One counter per label set, made once: the registry's own lookup builds label strings.
  private let decisionCounters = Mutex<[DecisionKey: Counter]>([:])
  private let duration: DurationHistogram
  private let policyVersion: Gauge
  private let lastSync: Gauge
  private let syncFailures: Counter
  private let auditDropped: Counter
  private let credentialBrokerEnabled: Gauge
  /// Values already added to counters that mirror a count kept elsewhere.
  private let mirrored = Mutex<(syncFailures: Int, auditDropped: Int)>((0, 0))

  public init() {
    duration = registry.makeDurationHistogram(
      descriptor: MetricNameDescriptor(
        namespace: "remit", metricName: "decision_duration", unitName: "seconds",
        helpText: "Time in the Check handler: request extraction, decision and response"),
      buckets: [
        .microseconds(10), .microseconds(25), .microseconds(50), .microseconds(100), .microseconds(250),
        .microseconds(500), .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10),
        .milliseconds(50),
      ])
    policyVersion = registry.makeGauge(
      descriptor: MetricNameDescriptor(
        namespace: "remit", metricName: "policy_version", unitName: "",
        helpText: "Version of the policy snapshot in force (0 when none or not numeric)"))
    lastSync = registry.makeGauge(
      descriptor: MetricNameDescriptor(
        namespace: "remit", metricName: "policy_last_sync_timestamp", unitName: "seconds",
        helpText: "Unix time the control plane last confirmed the snapshot in force (0 on a policy file)"))
    syncFailures = registry.makeCounter(
      descriptor: MetricNameDescriptor(
        namespace: "remit", metricName: "policy_sync_failures", unitName: "total",
        helpText: "Failed snapshot requests and snapshots refused as invalid"))
    auditDropped = registry.makeCounter(
      descriptor: MetricNameDescriptor(
        namespace: "remit", metricName: "audit_events_dropped", unitName: "total",
        helpText: "Decision events lost: memory queue full, spool full or unwritable, or refused"))
    credentialBrokerEnabled = registry.makeGauge(
      descriptor: MetricNameDescriptor(
        namespace: "remit", metricName: "credential_broker_enabled", unitName: "",
        helpText: "1 when credentials can be minted, 0 when brokering is disabled"))
  }

  /// On the decision path: one short lock and a dictionary lookup.
  func record(_ decision: Decision, latency: Duration) {
    let key = DecisionKey(verdict: decision.verdict, reason: decision.reason, kind: decision.kind, mode: decision.mode)
    let counter = decisionCounters.withLock { counters in
      if let counter = counters[key] { return counter }
      let counter = registry.makeCounter(
        descriptor: MetricNameDescriptor(
          namespace: "remit", metricName: "decisions", unitName: "total", helpText: "Decisions made"),
        labels: [
          ("verdict", key.verdict.rawValue), ("reason", key.reason?.rawValue ?? "none"),
          ("kind", key.kind?.rawValue ?? "none"), ("mode", key.mode?.rawValue ?? "none"),
        ])
      counters[key] = counter
      return counter
    }
    counter.increment()
    duration.record(latency)
  }

  /// The exposition text, with the gauges and mirrored counters brought up to date first.
  func exposition(
    snapshot: PolicySnapshot?, sync: SyncStatus.State?, audit: AuditStatistics?, brokerEnabled: Bool
  ) -> [UInt8] {
    policyVersion.set(to: snapshot.flatMap { Double($0.version) } ?? 0)
    lastSync.set(to: sync?.lastSync?.timeIntervalSince1970 ?? 0)
    credentialBrokerEnabled.set(to: brokerEnabled ? 1.0 : 0.0)
    mirrored.withLock { mirrored in
      let failures = sync?.failures ?? 0
      if failures > mirrored.syncFailures {
        syncFailures.increment(by: Int64(failures - mirrored.syncFailures))
        mirrored.syncFailures = failures
      }
      let dropped = audit?.dropped ?? 0
      if dropped > mirrored.auditDropped {
        auditDropped.increment(by: Int64(dropped - mirrored.auditDropped))
        mirrored.auditDropped = dropped
      }
    }
    return registry.emitToBuffer()
  }
}
