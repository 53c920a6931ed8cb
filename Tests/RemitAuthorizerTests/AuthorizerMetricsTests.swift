import Foundation
import RemitEngine
import Testing

@testable import RemitAuthorizer

@Suite struct AuthorizerMetricsTests {
  @Test func decisionsAreCountedByVerdictReasonKindAndMode() throws {
    let metrics = AuthorizerMetrics()
    var denied = Decision.sample
    denied.kind = .eastWest
    denied.mode = .enforce
    var allowed = denied
    allowed.verdict = .allow
    allowed.reason = nil
    for _ in 0..<3 { metrics.record(denied, latency: .microseconds(40)) }
    metrics.record(allowed, latency: .microseconds(30))

    var sync = SyncStatus.State()
    sync.failures = 2
    sync.lastSync = Date(timeIntervalSince1970: 1_700_000_000)
    var audit = AuditStatistics()
    audit.dropped = 5
    let text = String(
      decoding: metrics.exposition(snapshot: nil, sync: sync, audit: audit, brokerEnabled: false), as: UTF8.self)
    #expect(
      text.contains(
        #"remit_decisions_total{verdict="deny",reason="scope_tool_denied",kind="east_west",mode="enforce"} 3"#))
    #expect(text.contains(#"remit_decisions_total{verdict="allow",reason="none",kind="east_west",mode="enforce"} 1"#))
    #expect(text.contains("remit_decision_duration_seconds_count 4"))
    #expect(text.contains("remit_policy_sync_failures_total 2"))
    #expect(text.contains("remit_audit_events_dropped_total 5"))
    #expect(text.contains("remit_policy_last_sync_timestamp_seconds 1700000000"))
    #expect(text.contains("remit_credential_broker_enabled 0"))
    #expect(text.contains("# TYPE remit_decision_duration_seconds histogram"))

    // Mirrored counters only move forward by what changed since the last scrape.
    sync.failures = 3
    let again = String(
      decoding: metrics.exposition(snapshot: nil, sync: sync, audit: audit, brokerEnabled: false), as: UTF8.self)
    #expect(again.contains("remit_policy_sync_failures_total 3"))
    #expect(again.contains("remit_audit_events_dropped_total 5"))
  }
}
