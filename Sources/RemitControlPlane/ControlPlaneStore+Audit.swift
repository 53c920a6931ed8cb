import Foundation
import RemitEngine
import SQLKit

/// One decision as the authorizer logs it (SPEC section 9) and ships it to the control plane.
/// Metadata only: never body content, argument values or credential values.
public struct AuditEvent: Codable, Sendable, Equatable {
  public struct AIBOM: Codable, Sendable, Equatable {
    public var publisher: String?
    public var version: String?
    public var risk: String?

    public init(publisher: String? = nil, version: String? = nil, risk: String? = nil) {
      self.publisher = publisher
      self.version = version
      self.risk = risk
    }
  }

  /// 1-64 characters of `[A-Za-z0-9_-]`; unique per tenant (replays are recognized by it).
  public var decisionId: String
  @RFC3339Time public var time: Date
  public var surface: String?
  /// `allow` or `deny`.
  public var verdict: String
  public var reason: String?
  public var wouldDeny: String?
  public var mode: String?
  public var agent: String?
  public var sourcePrincipal: String?
  public var destination: String?
  /// `east_west`, `a2a` or `egress`.
  public var kind: String?
  public var method: String?
  public var path: String?
  public var tool: String?
  public var rpcMethod: String?
  public var chainId: String?
  public var externalHost: String?
  public var policyVersion: String?
  public var findings: [String]?
  public var aibom: AIBOM?
  public var latencyUs: Int64?
  /// The instance that sent the event; set by the store on read, ignored on write.
  public var authorizer: String?

  public init(
    decisionId: String, time: Date, surface: String? = "mesh", verdict: String, reason: String? = nil,
    wouldDeny: String? = nil, mode: String? = nil, agent: String? = nil, sourcePrincipal: String? = nil,
    destination: String? = nil, kind: String? = nil, method: String? = nil, path: String? = nil,
    tool: String? = nil, rpcMethod: String? = nil, chainId: String? = nil, externalHost: String? = nil,
    policyVersion: String? = nil, findings: [String]? = nil, aibom: AIBOM? = nil, latencyUs: Int64? = nil,
    authorizer: String? = nil
  ) {
    self.decisionId = decisionId
    self._time = RFC3339Time(wrappedValue: time)
    self.surface = surface
    self.verdict = verdict
    self.reason = reason
    self.wouldDeny = wouldDeny
    self.mode = mode
    self.agent = agent
    self.sourcePrincipal = sourcePrincipal
    self.destination = destination
    self.kind = kind
    self.method = method
    self.path = path
    self.tool = tool
    self.rpcMethod = rpcMethod
    self.chainId = chainId
    self.externalHost = externalHost
    self.policyVersion = policyVersion
    self.findings = findings
    self.aibom = aibom
    self.latencyUs = latencyUs
    self.authorizer = authorizer
  }

  public static let verdicts: Set<String> = ["allow", "deny"]
  public static let kinds: Set<String> = ["east_west", "a2a", "egress"]
  /// `monitor` is what the authorizer logs for an agent in `observe` mode; `observe` is accepted too.
  public static let modes: Set<String> = ["enforce", "monitor", "observe"]
  public static let maximumStringBytes = 2048
  public static let maximumFindings = 16
  public static let maximumFindingBytes = 256

  /// Every problem with the event's fields, named under `prefix` (`events[3]`).
  func problems(prefix: String) -> [ControlPlaneError.FieldProblem] {
    var problems: [ControlPlaneError.FieldProblem] = []
    func add(_ field: String, _ message: String) {
      problems.append(.init(field: "\(prefix).\(field)", message: message))
    }
    if let problem = Self.decisionIdProblem(decisionId) { add("decisionId", problem) }
    if !Self.verdicts.contains(verdict) { add("verdict", "must be allow or deny") }
    if let kind, !Self.kinds.contains(kind) { add("kind", "must be east_west, a2a, egress or null") }
    if let mode, !Self.modes.contains(mode) { add("mode", "must be enforce, monitor, observe or null") }
    let strings: [(String, String?)] = [
      ("surface", surface), ("reason", reason), ("wouldDeny", wouldDeny), ("mode", mode), ("agent", agent),
      ("sourcePrincipal", sourcePrincipal), ("destination", destination), ("kind", kind), ("method", method),
      ("path", path), ("tool", tool), ("rpcMethod", rpcMethod), ("chainId", chainId),
      ("externalHost", externalHost), ("policyVersion", policyVersion), ("aibom.publisher", aibom?.publisher),
      ("aibom.version", aibom?.version), ("aibom.risk", aibom?.risk),
    ]
    for (field, value) in strings where (value?.utf8.count ?? 0) > Self.maximumStringBytes {
      add(field, "must be at most \(Self.maximumStringBytes) bytes")
    }
    if let findings {
      if findings.count > Self.maximumFindings { add("findings", "must have at most \(Self.maximumFindings) entries") }
      for (index, finding) in findings.enumerated() where finding.utf8.count > Self.maximumFindingBytes {
        add("findings[\(index)]", "must be at most \(Self.maximumFindingBytes) bytes")
      }
    }
    if let latencyUs, latencyUs < 0 { add("latencyUs", "must not be negative") }
    return problems
  }

  static func decisionIdProblem(_ id: String) -> String? {
    let valid =
      (1...64).contains(id.utf8.count)
      && id.utf8.allSatisfy { byte in
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
          || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
          || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_")
          || byte == UInt8(ascii: "-")
      }
    return valid ? nil : "must be 1-64 characters of A-Z, a-z, 0-9, _ and -"
  }
}

/// Which audit events to read, newest first.
public struct AuditQuery: Sendable, Equatable {
  public static let defaultLimit = 50
  public static let maximumLimit = 500

  public var agent: String?
  public var verdict: String?
  public var reason: String?
  public var kind: String?
  /// A delegation chain id: only the decisions made inside that chain.
  public var chain: String?
  /// Inclusive.
  public var since: Date?
  /// Exclusive.
  public var until: Date?
  /// 1 to 500.
  public var limit: Int
  /// `nextCursor` of the previous page.
  public var cursor: String?

  public init(
    agent: String? = nil, verdict: String? = nil, reason: String? = nil, kind: String? = nil, chain: String? = nil,
    since: Date? = nil, until: Date? = nil, limit: Int = AuditQuery.defaultLimit, cursor: String? = nil
  ) {
    self.chain = chain
    self.agent = agent
    self.verdict = verdict
    self.reason = reason
    self.kind = kind
    self.since = since
    self.until = until
    self.limit = limit
    self.cursor = cursor
  }
}

/// One page of audit events and the cursor of the next, nil on the last page.
public struct AuditPage: Codable, Sendable, Equatable {
  public var events: [AuditEvent]
  public var nextCursor: String?

  public init(events: [AuditEvent], nextCursor: String?) {
    self.events = events
    self.nextCursor = nextCursor
  }

  // `nextCursor: null` on the last page, rather than a missing key.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(events, forKey: .events)
    try container.encode(nextCursor, forKey: .nextCursor)
  }
}

/// The position after the last event of a page: `(time_us, decision_id)`, base64url. Keyset
/// paging stays stable while new events arrive (they sort before the cursor, never into a page).
struct AuditCursor: Equatable {
  var timeMicroseconds: Int64
  var decisionId: String

  var encoded: String { APIKey.base64URL(Array("\(timeMicroseconds):\(decisionId)".utf8)) }

  init(timeMicroseconds: Int64, decisionId: String) {
    self.timeMicroseconds = timeMicroseconds
    self.decisionId = decisionId
  }

  init?(_ text: String) {
    guard text.utf8.count <= 128, let bytes = Self.decodeBase64URL(text),
      let decoded = String(validating: bytes, as: UTF8.self),
      let colon = decoded.firstIndex(of: ":"),
      let time = Int64(decoded[..<colon])
    else { return nil }
    let id = String(decoded[decoded.index(after: colon)...])
    guard AuditEvent.decisionIdProblem(id) == nil else { return nil }
    self.init(timeMicroseconds: time, decisionId: id)
  }

  static func decodeBase64URL(_ text: String) -> [UInt8]? {
    var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while base64.utf8.count % 4 != 0 { base64 += "=" }
    return Data(base64Encoded: base64).map { Array($0) }
  }
}

extension ControlPlaneStore {
  /// The most events one call may append (the API's batch limit).
  public static let maximumAuditBatch = 1000

  /// Stores the events of one batch from `authorizer`. Idempotent on (tenant, decisionId): an event
  /// already stored, or repeated within the batch, counts as a duplicate and is not stored again.
  /// Throws 422 naming `events[i].field` when any event is invalid, and then stores nothing.
  public func appendAuditEvents(
    tenant: String, authorizer: String, _ events: [AuditEvent]
  ) async throws -> (accepted: Int, duplicates: Int) {
    if let problem = Self.authorizerIdProblem(authorizer) {
      throw ControlPlaneError.validation(field: "authorizer", problem)
    }
    guard (1...Self.maximumAuditBatch).contains(events.count) else {
      throw ControlPlaneError.validation(field: "events", "must have 1 to \(Self.maximumAuditBatch) events")
    }
    let problems = events.enumerated().flatMap { $0.element.problems(prefix: "events[\($0.offset)]") }
    guard problems.isEmpty else { throw ControlPlaneError.validation(problems) }
    // Sorted by id: concurrent batches that overlap take the unique index's locks in one order
    // on PostgreSQL, so they wait for each other instead of deadlocking.
    let rows = try events.sorted { $0.decisionId < $1.decisionId }.map { event in
      var stored = event
      stored.authorizer = nil
      // Only a well-formed chain id is indexed (a longer one can match no chain).
      let chain = event.chainId.flatMap { DelegationHop.isValidChainID($0) ? $0 : nil }
      return (event, RFC3339.microseconds(event.time), try Self.json(stored), chain)
    }
    let limit = options.auditEventsPerTenant
    let accepted = try await database.transaction { db in
      _ = try await Self.version(tenant: tenant, db: db)
      var accepted = 0
      // 90 rows per statement: 900 bound parameters, under both engines' limits.
      var start = 0
      while start < rows.count {
        let chunk = rows[start..<min(start + 90, rows.count)]
        start += 90
        var query = SQLQueryString(
          "INSERT INTO audit_events (tenant, decision_id, time_us, authorizer, agent, verdict, reason, kind, document, "
            + "chain_id) VALUES "
        )
        for (offset, (event, time, document, chain)) in chunk.enumerated() {
          if offset > 0 { query += ", " }
          query += """
            (\(bind: tenant), \(bind: event.decisionId), \(bind: time), \(bind: authorizer), \(bind: event.agent), \
            \(bind: event.verdict), \(bind: event.reason), \(bind: event.kind), \(bind: document), \(bind: chain))
            """
        }
        query += (" ON CONFLICT (tenant, decision_id) DO NOTHING RETURNING decision_id")
        accepted += try await db.raw(query).all().count
      }
      if accepted > 0 { try await Self.applyRetention(tenant: tenant, added: accepted, limit: limit, db: db) }
      return accepted
    }
    return (accepted, events.count - accepted)
  }

  /// Keeps the tenant's newest `limit` events. Runs when the tenant holds 1% more than that, so
  /// the delete is amortized over many batches instead of scanning the index on every one.
  static func applyRetention(tenant: String, added: Int, limit: Int, db: any SQLDatabase) async throws {
    try await db.raw(
      """
      INSERT INTO audit_event_counts (tenant, stored) VALUES (\(bind: tenant), \(bind: added))
      ON CONFLICT (tenant) DO UPDATE SET stored = audit_event_counts.stored + excluded.stored
      """
    ).run()
    let stored =
      try await db.raw("SELECT stored FROM audit_event_counts WHERE tenant = \(bind: tenant)").first()?
      .decode(column: "stored", as: Int64.self) ?? 0
    guard stored > Int64(limit + limit / 100) else { return }
    // The oldest event to keep; everything before it in (time, decisionId) order goes.
    guard
      let boundary = try await db.raw(
        """
        SELECT time_us, decision_id FROM audit_events WHERE tenant = \(bind: tenant)
        ORDER BY time_us DESC, decision_id DESC LIMIT 1 OFFSET \(bind: limit - 1)
        """
      ).first()
    else {
      // Fewer rows than the count says (a count from before a crash, say): recount.
      try await recount(tenant: tenant, db: db)
      return
    }
    let time = try boundary.decode(column: "time_us", as: Int64.self)
    let id = try boundary.decode(column: "decision_id", as: String.self)
    try await db.raw(
      """
      DELETE FROM audit_events WHERE tenant = \(bind: tenant)
      AND (time_us < \(bind: time) OR (time_us = \(bind: time) AND decision_id < \(bind: id)))
      """
    ).run()
    try await recount(tenant: tenant, db: db)
  }

  static func recount(tenant: String, db: any SQLDatabase) async throws {
    let count =
      try await db.raw("SELECT COUNT(*) AS count FROM audit_events WHERE tenant = \(bind: tenant)").first()?
      .decode(column: "count", as: Int64.self) ?? 0
    try await db.raw("UPDATE audit_event_counts SET stored = \(bind: count) WHERE tenant = \(bind: tenant)").run()
  }

  /// A page of the tenant's events, newest first, filtered by every field the query sets.
  /// Throws 422 for a limit outside 1...500 or a cursor this API did not issue.
  public func auditEvents(tenant: String, _ query: AuditQuery) async throws -> AuditPage {
    guard (1...AuditQuery.maximumLimit).contains(query.limit) else {
      throw ControlPlaneError.validation(field: "limit", "must be an integer from 1 to \(AuditQuery.maximumLimit)")
    }
    var cursor: AuditCursor?
    if let text = query.cursor {
      guard let parsed = AuditCursor(text) else {
        throw ControlPlaneError.validation(field: "cursor", "is not a cursor from a previous page; start without one")
      }
      cursor = parsed
    }
    var sql = SQLQueryString(
      "SELECT decision_id, time_us, authorizer, document FROM audit_events WHERE tenant = \(bind: tenant)")
    if let agent = query.agent { sql += " AND agent = \(bind: agent)" }
    if let verdict = query.verdict { sql += " AND verdict = \(bind: verdict)" }
    if let reason = query.reason { sql += " AND reason = \(bind: reason)" }
    if let kind = query.kind { sql += " AND kind = \(bind: kind)" }
    if let chain = query.chain { sql += " AND chain_id = \(bind: chain)" }
    if let since = query.since {
      sql += " AND time_us >= \(bind: RFC3339.microseconds(since))"
    }
    if let until = query.until {
      sql += " AND time_us < \(bind: RFC3339.microseconds(until))"
    }
    if let cursor {
      sql += """
         AND (time_us < \(bind: cursor.timeMicroseconds) OR (time_us = \(bind: cursor.timeMicroseconds) \
        AND decision_id < \(bind: cursor.decisionId)))
        """
    }
    // One more than asked: its presence says whether there is a next page.
    sql += " ORDER BY time_us DESC, decision_id DESC LIMIT \(bind: query.limit + 1)"
    let finalQuery = sql
    let rows = try await database.read { db in
      _ = try await Self.version(tenant: tenant, db: db)
      return try await db.raw(finalQuery).all().map { row in
        (
          id: try row.decode(column: "decision_id", as: String.self),
          time: try row.decode(column: "time_us", as: Int64.self),
          authorizer: try row.decode(column: "authorizer", as: String.self),
          document: try row.decode(column: "document", as: String.self)
        )
      }
    }
    let decoder = JSONDecoder()
    var events: [AuditEvent] = []
    for row in rows.prefix(query.limit) {
      var event = try decoder.decode(AuditEvent.self, from: Data(row.document.utf8))
      event.time = RFC3339.date(microseconds: row.time)
      event.authorizer = row.authorizer
      events.append(event)
    }
    var nextCursor: String?
    if rows.count > query.limit, let last = rows.prefix(query.limit).last {
      nextCursor = AuditCursor(timeMicroseconds: last.time, decisionId: last.id).encoded
    }
    return AuditPage(events: events, nextCursor: nextCursor)
  }
}
