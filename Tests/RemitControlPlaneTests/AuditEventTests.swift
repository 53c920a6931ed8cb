import Foundation
import Hummingbird
import HummingbirdTesting
import SQLKit
import Testing

@testable import RemitControlPlane

@Suite struct AuditEventTests {
  struct BatchResult: Decodable, Equatable {
    var accepted: Int
    var duplicates: Int
  }

  @Test(arguments: TestBackend.all) func eventsAreStoredOnceAndReadBackNewestFirst(_ backend: TestBackend) async throws
  {
    let fixture = try await ControlPlaneFixture.make(backend)
    let authorizer = try await fixture.store.issueKey(tenant: "default", role: .authorizer)
    let reader = try await fixture.store.issueKey(tenant: "default", role: .reader)
    let events = (0..<3).map { auditEvent("d\($0)", offset: $0) }
    try await fixture.withAPI { client in
      let posted = try await client.send(
        .post, "/v1/audit/events", key: authorizer.key, json: try auditBatchJSON(events))
      #expect(posted.status == .accepted, "\(posted.text)")
      #expect(try posted.decoded(BatchResult.self) == BatchResult(accepted: 3, duplicates: 0))

      // The authorizer replays its spool after an outage: nothing is stored twice.
      let replay = try await client.send(
        .post, "/v1/audit/events", key: authorizer.key,
        json: try auditBatchJSON(events + [auditEvent("d3", offset: 3), auditEvent("d3", offset: 3)]))
      #expect(try replay.decoded(BatchResult.self) == BatchResult(accepted: 1, duplicates: 4))

      let read = try await client.send(.get, "/v1/audit/events", key: reader.key)
      #expect(read.status == .ok)
      let page = try read.decoded(AuditPage.self)
      #expect(page.events.map(\.decisionId) == ["d3", "d2", "d1", "d0"])
      #expect(page.nextCursor == nil)
      #expect(read.text.contains(#""nextCursor":null"#))
      var expected = events[2]
      expected.authorizer = "authz-1"
      #expect(page.events[1] == expected)
      #expect(read.text.contains(#""time":"2026-11-18T11:06:42.123Z""#))
    }
  }

  @Test(arguments: TestBackend.all) func filtersAndPagesAreStableWhileEventsArrive(_ backend: TestBackend) async throws
  {
    let fixture = try await ControlPlaneFixture.make(backend)
    let store = fixture.store
    var events: [AuditEvent] = []
    for index in 0..<7 {
      events.append(
        auditEvent(
          "e\(index)", offset: index * 10, verdict: index % 2 == 0 ? "allow" : "deny",
          agent: index < 5 ? "checkout-bot" : "planner", reason: index % 2 == 0 ? nil : "tool_not_allowed",
          kind: index == 6 ? "egress" : "east_west"))
    }
    // Two events at the same instant: the decision id breaks the tie, and paging splits them.
    events.append(auditEvent("e7a", offset: 70))
    events.append(auditEvent("e7b", offset: 70))
    #expect(try await store.appendAuditEvents(tenant: "default", authorizer: "a", events) == (9, 0))

    func ids(_ query: AuditQuery) async throws -> [String] {
      try await store.auditEvents(tenant: "default", query).events.map(\.decisionId)
    }
    #expect(try await ids(AuditQuery(agent: "planner")) == ["e6", "e5"])
    #expect(try await ids(AuditQuery(verdict: "deny")) == ["e5", "e3", "e1"])
    #expect(try await ids(AuditQuery(reason: "tool_not_allowed", kind: "east_west")) == ["e5", "e3", "e1"])
    #expect(try await ids(AuditQuery(kind: "egress")) == ["e6"])
    let base = Date(timeIntervalSince1970: 1_795_000_000)
    // since inclusive (e2 is at +20.123 s), until exclusive (e4 is at +40.123 s).
    #expect(
      try await ids(AuditQuery(since: base.addingTimeInterval(20.123), until: base.addingTimeInterval(40.123)))
        == ["e3", "e2"])
    #expect(try await ids(AuditQuery(agent: "nobody")) == [])

    // Pages of 2 while new events keep arriving: every old event exactly once, in order.
    var seen: [String] = []
    var cursor: String?
    var pages = 0
    repeat {
      let page = try await store.auditEvents(tenant: "default", AuditQuery(limit: 2, cursor: cursor))
      seen += page.events.map(\.decisionId)
      cursor = page.nextCursor
      pages += 1
      _ = try await store.appendAuditEvents(
        tenant: "default", authorizer: "a", [auditEvent("new\(pages)", offset: 1000 + pages)])
    } while cursor != nil && pages < 10
    #expect(seen == ["e7b", "e7a", "e6", "e5", "e4", "e3", "e2", "e1", "e0"])
    #expect(pages == 5)

    // The cursor carries the filters' position, not the filters: the same filter pages on.
    let before = base.addingTimeInterval(500)
    let first = try await store.auditEvents(
      tenant: "default", AuditQuery(verdict: "allow", until: before, limit: 2))
    #expect(first.events.map(\.decisionId) == ["e7b", "e7a"])
    let second = try await store.auditEvents(
      tenant: "default", AuditQuery(verdict: "allow", until: before, limit: 2, cursor: first.nextCursor))
    #expect(second.events.map(\.decisionId) == ["e6", "e4"])
    try await store.close()
  }

  @Test(arguments: TestBackend.all) func pagingOverTheAPI(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    let events = (0..<5).map { auditEvent("p\($0)", offset: $0) }
    _ = try await fixture.store.appendAuditEvents(tenant: "default", authorizer: "a", events)
    try await fixture.withAPI { client in
      let first = try await client.send(.get, "/v1/audit/events?limit=3&verdict=allow", key: fixture.adminKey)
      let firstPage = try first.decoded(AuditPage.self)
      #expect(firstPage.events.map(\.decisionId) == ["p4", "p3", "p2"])
      let cursor = try #require(firstPage.nextCursor)
      let second = try await client.send(
        .get, "/v1/audit/events?limit=3&verdict=allow&cursor=\(cursor)", key: fixture.adminKey)
      let secondPage = try second.decoded(AuditPage.self)
      #expect(secondPage.events.map(\.decisionId) == ["p1", "p0"])
      #expect(secondPage.nextCursor == nil)
    }
  }

  @Test(arguments: TestBackend.all) func invalidBatchesAndQueriesAre422NamingTheField(_ backend: TestBackend)
    async throws
  {
    let fixture = try await ControlPlaneFixture.make(backend)
    let key = fixture.adminKey
    try await fixture.withAPI { client in
      func field(_ json: String) async throws -> String? {
        let response = try await client.send(.post, "/v1/audit/events", key: key, json: json)
        #expect(response.status == .unprocessableContent, "\(json.prefix(200)): \(response.text)")
        return response.errorBody?.error.field
      }
      var bad = auditEvent("ok", offset: 0)
      bad.decisionId = "has space"
      #expect(try await field(try auditBatchJSON([auditEvent("fine", offset: 0), bad])) == "events[1].decisionId")
      var long = auditEvent("long", offset: 0)
      long.agent = String(repeating: "a", count: 2049)
      #expect(try await field(try auditBatchJSON([long])) == "events[0].agent")
      var findings = auditEvent("findings", offset: 0)
      findings.findings = Array(repeating: "x@body", count: 17)
      #expect(try await field(try auditBatchJSON([findings])) == "events[0].findings")
      var verdict = auditEvent("verdict", offset: 0)
      verdict.verdict = "maybe"
      #expect(try await field(try auditBatchJSON([verdict])) == "events[0].verdict")
      #expect(try await field(try auditBatchJSON([])) == "events")
      let tooMany = (0..<1001).map { auditEvent("m\($0)", offset: $0) }
      #expect(try await field(try auditBatchJSON(tooMany)) == "events")
      #expect(try await field(try auditBatchJSON([auditEvent("x", offset: 0)], authorizer: "no/slash")) == "authorizer")
      #expect(
        try await field(
          #"{"authorizer": "a", "events": [{"decisionId": "t", "time": "yesterday", "verdict": "allow"}]}"#)
          == "events[0].time")
      #expect(
        try await field(#"{"authorizer": "a", "events": [{"decisionId": "t", "verdict": "allow"}]}"#)
          == "events[0].time")
      #expect(try await field(#"{"events": []}"#) == "authorizer")
      // Nothing of a rejected batch was stored.
      #expect(try await fixture.store.auditEvents(tenant: "default", AuditQuery()).events.isEmpty)

      let notJSON = try await client.send(.post, "/v1/audit/events", key: key, json: "{")
      #expect(notJSON.status == .badRequest)
      #expect(notJSON.errorBody?.error.code == "invalid_json")

      for (query, name) in [
        ("limit=0", "limit"), ("limit=501", "limit"), ("limit=ten", "limit"), ("cursor=bm90LWEtY3Vyc29y", "cursor"),
        ("since=2026-13-01T00:00:00Z", "since"), ("until=now", "until"), ("verdict=maybe", "verdict"),
        ("kind=north_south", "kind"), ("agent=", "agent"),
      ] {
        let response = try await client.send(.get, "/v1/audit/events?\(query)", key: key)
        #expect(response.status == .unprocessableContent, "\(query)")
        #expect(response.errorBody?.error.field == name, "\(query)")
      }
    }
  }

  @Test(arguments: TestBackend.all) func onlyAuthorizersAndAdminsWriteAndOnlyReadersAndAdminsRead(
    _ backend: TestBackend
  ) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    let reader = try await fixture.store.issueKey(tenant: "default", role: .reader)
    let authorizer = try await fixture.store.issueKey(tenant: "default", role: .authorizer)
    try await fixture.withAPI { client in
      let batch = try auditBatchJSON([auditEvent("r1", offset: 0)])
      #expect(try await client.send(.post, "/v1/audit/events", key: reader.key, json: batch).status == .forbidden)
      #expect(try await client.send(.post, "/v1/audit/events", key: nil, json: batch).status == .unauthorized)
      #expect(try await client.send(.get, "/v1/audit/events", key: nil).status == .unauthorized)
      #expect(try await client.send(.post, "/v1/audit/events", key: authorizer.key, json: batch).status == .accepted)
      #expect(try await client.send(.post, "/v1/audit/events", key: fixture.adminKey, json: batch).status == .accepted)
      let forbidden = try await client.send(.get, "/v1/audit/events", key: authorizer.key)
      #expect(forbidden.status == .forbidden)
      #expect(forbidden.errorBody?.error.code == "forbidden")
      #expect(try await client.send(.get, "/v1/audit/events", key: reader.key).status == .ok)
    }
  }

  @Test(arguments: TestBackend.all) func tenantsNeverSeeEachOthersEvents(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend)
    let acme = try await fixture.store.createTenant("acme")
    try await fixture.withAPI { client in
      let batch = try auditBatchJSON([auditEvent("shared-id", offset: 0, agent: "acme-bot")])
      let acmePost = try await client.send(.post, "/v1/audit/events", key: acme.key, json: batch)
      #expect(try acmePost.decoded(BatchResult.self) == BatchResult(accepted: 1, duplicates: 0))
      // The same decision id in another tenant is another event, not a duplicate.
      let defaultPost = try await client.send(
        .post, "/v1/audit/events", key: fixture.adminKey,
        json: try auditBatchJSON([auditEvent("shared-id", offset: 5, agent: "default-bot")]))
      #expect(try defaultPost.decoded(BatchResult.self) == BatchResult(accepted: 1, duplicates: 0))

      let defaultEvents = try await client.send(.get, "/v1/audit/events", key: fixture.adminKey).decoded(
        AuditPage.self)
      #expect(defaultEvents.events.map(\.agent) == ["default-bot"])
      #expect(
        try await client.send(.get, "/v1/audit/events?agent=acme-bot", key: fixture.adminKey).decoded(AuditPage.self)
          .events.isEmpty)
      let acmeEvents = try await client.send(.get, "/v1/audit/events", key: acme.key).decoded(AuditPage.self)
      #expect(acmeEvents.events.map(\.agent) == ["acme-bot"])
    }
  }

  @Test(arguments: TestBackend.all) func retentionKeepsTheNewestEventsPerTenant(_ backend: TestBackend) async throws {
    let fixture = try await ControlPlaneFixture.make(backend, options: .init(auditEventsPerTenant: 5))
    let store = fixture.store
    _ = try await store.createTenant("acme")
    _ = try await store.appendAuditEvents(tenant: "acme", authorizer: "a", [auditEvent("acme-0", offset: 0)])
    for batch in 0..<4 {
      let events = (0..<3).map { auditEvent("b\(batch)-\($0)", offset: batch * 10 + $0) }
      _ = try await store.appendAuditEvents(tenant: "default", authorizer: "a", events)
    }
    let kept = try await store.auditEvents(tenant: "default", AuditQuery(limit: 500)).events.map(\.decisionId)
    #expect(kept == ["b3-2", "b3-1", "b3-0", "b2-2", "b2-1"])
    // Another tenant's events are not pruned by this one's volume.
    #expect(try await store.auditEvents(tenant: "acme", AuditQuery()).events.map(\.decisionId) == ["acme-0"])
    let rows = try await store.database.read { db in
      try await db.raw("SELECT COUNT(*) AS count FROM audit_events WHERE tenant = 'default'").first()?.decode(
        column: "count", as: Int.self)
    }
    #expect(rows == 5)
    try await store.close()
  }

  @Test func rfc3339TimesRoundTrip() throws {
    #expect(RFC3339.microseconds("1970-01-01T00:00:00Z") == 0)
    #expect(RFC3339.microseconds("2026-11-23T10:00:00.123Z") == 1_795_428_000_123_000)
    #expect(RFC3339.microseconds("2026-11-23T11:00:00.123+01:00") == 1_795_428_000_123_000)
    #expect(RFC3339.microseconds("2026-11-23T10:00:00.1234567Z") == 1_795_428_000_123_456)
    #expect(RFC3339.string(microseconds: 1_795_428_000_123_000) == "2026-11-23T10:00:00.123Z")
    #expect(RFC3339.string(microseconds: 1_795_428_000_123_456) == "2026-11-23T10:00:00.123456Z")
    #expect(RFC3339.string(microseconds: -1) == "1969-12-31T23:59:59.999999Z")
    #expect(RFC3339.microseconds("2024-02-29T00:00:00Z") != nil)
    for bad in [
      "2026-02-29T00:00:00Z", "2026-11-23 10:00:00Z", "2026-11-23T10:00:00", "2026-11-23T24:00:00Z",
      "2026-11-23T10:00:60Z", "2026-11-23T10:00:00.Z", "2026-11-23T10:00:00+0100", "now",
    ] {
      #expect(RFC3339.microseconds(bad) == nil, "\(bad)")
    }
  }
}
