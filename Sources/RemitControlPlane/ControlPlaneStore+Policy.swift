import Foundation
import RemitEngine
import SQLKit

/// The policy sections stored whole, one JSON document each.
public enum PolicySection: String, Sendable, CaseIterable {
  case settings
  case dlp
  case threatIntel
  case aibom
}

/// Which resource a write is about, so document-level issues name the resource's own fields.
enum WriteFocus: Sendable {
  case agent(String)
  case mission(String)
  case section(PolicySection)
  case none
}

extension ControlPlaneStore {
  // MARK: Reading

  /// The tenant's policy version; 404 for an unknown tenant.
  public func policyVersion(tenant: String) async throws -> Int64 {
    try await database.read { db in try await Self.version(tenant: tenant, db: db) }
  }

  /// The tenant's whole policy document with `metadata.version` set, checked by `PolicySnapshot`.
  public func snapshot(tenant: String) async throws -> PolicySnapshot {
    let document = try await database.read { db in try await Self.document(tenant: tenant, db: db) }
    do {
      return try PolicySnapshot(document)
    } catch {
      // Every commit was checked, so this means the database was edited by hand.
      throw ControlPlaneError(
        status: .internalServerError, code: "stored_policy_invalid",
        message: "the stored policy of tenant \(tenant) does not validate: \(error.description)"
      )
    }
  }

  public func agents(tenant: String) async throws -> [PolicyDocument.Agent] {
    try await database.read { db in try await Self.agents(tenant: tenant, db: db) }
  }

  public func agent(tenant: String, id: String) async throws -> PolicyDocument.Agent {
    let agents = try await database.read { db in try await Self.agents(tenant: tenant, id: id, db: db) }
    guard let agent = agents.first else { throw ControlPlaneError.notFound("agent \(id)") }
    return agent
  }

  public func missions(tenant: String) async throws -> [PolicyDocument.Mission] {
    try await database.read { db in try await Self.missions(tenant: tenant, db: db) }
  }

  public func mission(tenant: String, id: String) async throws -> PolicyDocument.Mission {
    let missions = try await database.read { db in try await Self.missions(tenant: tenant, id: id, db: db) }
    guard let mission = missions.first else { throw ControlPlaneError.notFound("mission \(id)") }
    return mission
  }

  /// A section's stored JSON, or `{}` when it was never set.
  public func section(tenant: String, _ section: PolicySection) async throws -> [UInt8] {
    try await database.read { db in
      _ = try await Self.version(tenant: tenant, db: db)
      return Array((try await Self.sectionText(tenant: tenant, section, db: db) ?? "{}").utf8)
    }
  }

  // MARK: Writing

  public func createAgent(tenant: String, _ agent: PolicyDocument.Agent) async throws -> Int64 {
    try Self.checkAgentFields(agent)
    return try await commit(tenant: tenant, focus: .agent(agent.id)) { db in
      if try await !Self.agents(tenant: tenant, id: agent.id, db: db).isEmpty {
        throw ControlPlaneError(
          status: .conflict, code: "agent_exists",
          message: "agent \(agent.id) already exists; PUT /v1/agents/\(agent.id) to change it")
      }
      try await Self.checkIdentityFree(tenant: tenant, agent, db: db)
      try await Self.insert(tenant: tenant, agent, db: db)
    }
  }

  public func replaceAgent(tenant: String, _ agent: PolicyDocument.Agent) async throws -> Int64 {
    try Self.checkAgentFields(agent)
    return try await commit(tenant: tenant, focus: .agent(agent.id)) { db in
      guard try await !Self.agents(tenant: tenant, id: agent.id, db: db).isEmpty else {
        throw ControlPlaneError.notFound("agent \(agent.id)")
      }
      try await Self.checkIdentityFree(tenant: tenant, agent, db: db)
      try await db.raw("DELETE FROM agents WHERE tenant = \(bind: tenant) AND id = \(bind: agent.id)").run()
      try await Self.insert(tenant: tenant, agent, db: db)
    }
  }

  public func deleteAgent(tenant: String, id: String) async throws -> Int64 {
    try await commit(tenant: tenant, focus: .none) { db in
      guard try await !Self.agents(tenant: tenant, id: id, db: db).isEmpty else {
        throw ControlPlaneError.notFound("agent \(id)")
      }
      try await db.raw("DELETE FROM agents WHERE tenant = \(bind: tenant) AND id = \(bind: id)").run()
    }
  }

  public func createMission(tenant: String, _ mission: PolicyDocument.Mission) async throws -> Int64 {
    let text = try Self.json(mission)
    return try await commit(tenant: tenant, focus: .mission(mission.id)) { db in
      if try await !Self.missions(tenant: tenant, id: mission.id, db: db).isEmpty {
        throw ControlPlaneError(
          status: .conflict, code: "mission_exists",
          message: "mission \(mission.id) already exists; PUT /v1/missions/\(mission.id) to change it")
      }
      try await db.raw(
        "INSERT INTO missions (tenant, id, document) VALUES (\(bind: tenant), \(bind: mission.id), \(bind: text))"
      ).run()
    }
  }

  public func replaceMission(tenant: String, _ mission: PolicyDocument.Mission) async throws -> Int64 {
    let text = try Self.json(mission)
    return try await commit(tenant: tenant, focus: .mission(mission.id)) { db in
      guard try await !Self.missions(tenant: tenant, id: mission.id, db: db).isEmpty else {
        throw ControlPlaneError.notFound("mission \(mission.id)")
      }
      try await db.raw(
        "UPDATE missions SET document = \(bind: text) WHERE tenant = \(bind: tenant) AND id = \(bind: mission.id)"
      ).run()
    }
  }

  public func deleteMission(tenant: String, id: String) async throws -> Int64 {
    try await commit(tenant: tenant, focus: .none) { db in
      guard try await !Self.missions(tenant: tenant, id: id, db: db).isEmpty else {
        throw ControlPlaneError.notFound("mission \(id)")
      }
      try await db.raw("DELETE FROM missions WHERE tenant = \(bind: tenant) AND id = \(bind: id)").run()
    }
  }

  /// Stores a section given as the policy document's model, re-encoded so only known fields are kept.
  public func replaceSection(tenant: String, _ section: PolicySection, json: String) async throws -> Int64 {
    try await commit(tenant: tenant, focus: .section(section)) { db in
      try await db.raw(
        """
        INSERT INTO policy_sections (tenant, name, document) VALUES (\(bind: tenant), \(bind: section.rawValue), \(bind: json))
        ON CONFLICT (tenant, name) DO UPDATE SET document = excluded.document
        """
      ).run()
    }
  }

  /// Applies `change`, rebuilds the document, rejects it with 422 unless `PolicySnapshot` accepts
  /// it, and increments the version, all in one transaction. Wakes long-polls after the commit.
  func commit(
    tenant: String,
    focus: WriteFocus,
    _ change: @escaping @Sendable (any SQLDatabase) async throws -> Void
  ) async throws -> Int64 {
    let version = try await database.transaction { db in
      // Increment first: the row lock serializes the tenant's writers on PostgreSQL from here to
      // the commit, so the checks in `change` cannot race another write of the same tenant.
      try await db.raw("UPDATE policy_versions SET version = version + 1 WHERE tenant = \(bind: tenant)").run()
      let version = try await Self.version(tenant: tenant, db: db)
      try await change(db)
      let document = try await Self.document(tenant: tenant, db: db)
      do {
        _ = try PolicySnapshot(document)
      } catch let error as PolicyError {
        throw ControlPlaneError.validation(error.issues.map { Self.problem($0, focus: focus, document: document) })
      }
      return version
    }
    await versionWatch.publish(tenant: tenant, version: version)
    return version
  }

  // MARK: Validation

  /// The agent's own fields, with the same rules and messages as the policy validator.
  static func checkAgentFields(_ agent: PolicyDocument.Agent) throws {
    var problems: [ControlPlaneError.FieldProblem] = []
    if let problem = PolicyRules.identifierProblem(agent.id) { problems.append(.init(field: "id", message: problem)) }
    if let description = agent.description, description.utf8.count > 4096 {
      problems.append(.init(field: "description", message: "must be at most 4096 characters"))
    }
    if let mission = agent.mission, let problem = PolicyRules.identifierProblem(mission) {
      problems.append(.init(field: "mission", message: problem))
    }
    if let identity = agent.meshIdentity {
      for problem in PolicyRules.meshIdentityProblems(
        namespace: identity.namespace, serviceAccount: identity.serviceAccount)
      {
        problems.append(.init(field: "meshIdentity.\(problem.field)", message: problem.message))
      }
    }
    if !problems.isEmpty { throw ControlPlaneError.validation(problems) }
  }

  /// 409 when another agent of the tenant holds the agent's mesh identity.
  static func checkIdentityFree(tenant: String, _ agent: PolicyDocument.Agent, db: any SQLDatabase) async throws {
    guard let (namespace, serviceAccount) = meshBinding(agent) else { return }
    let holder = try await db.raw(
      """
      SELECT id FROM agents WHERE tenant = \(bind: tenant) AND namespace = \(bind: namespace)
      AND service_account = \(bind: serviceAccount) AND id <> \(bind: agent.id)
      """
    ).first()
    if let holder {
      let other = try holder.decode(column: "id", as: String.self)
      throw ControlPlaneError(
        status: .conflict, code: "mesh_identity_conflict",
        message: "\(namespace)/\(serviceAccount) is already bound to agent \(other); one agent per identity",
        problems: [.init(field: "meshIdentity", message: "is already bound to agent \(other)")]
      )
    }
  }

  /// Maps a document issue to the written resource's field when it is about that resource.
  static func problem(
    _ issue: PolicyIssue, focus: WriteFocus, document: PolicyDocument
  ) -> ControlPlaneError.FieldProblem {
    var prefix: String?
    switch focus {
    case .agent(let id):
      prefix = document.agents?.firstIndex { $0.id == id }.map { "agents[\($0)]" }
    case .mission(let id):
      prefix = document.missions?.firstIndex { $0.id == id }.map { "missions[\($0)]" }
    case .section(let section):
      prefix = section.rawValue
    case .none:
      prefix = nil
    }
    if let prefix, issue.path.hasPrefix(prefix + ".") {
      return .init(field: String(issue.path.dropFirst(prefix.count + 1)), message: issue.message)
    }
    return .init(field: issue.path, message: issue.message)
  }

  // MARK: Queries

  static func version(tenant: String, db: any SQLDatabase) async throws -> Int64 {
    guard let row = try await db.raw("SELECT version FROM policy_versions WHERE tenant = \(bind: tenant)").first()
    else {
      throw ControlPlaneError.notFound("tenant \(tenant)")
    }
    return try row.decode(column: "version", as: Int64.self)
  }

  static func document(tenant: String, db: any SQLDatabase) async throws -> PolicyDocument {
    let version = try await version(tenant: tenant, db: db)
    var document = PolicyDocument(metadata: .init(name: tenant, version: String(version)))
    let decoder = JSONDecoder()
    for section in PolicySection.allCases {
      guard let text = try await sectionText(tenant: tenant, section, db: db) else { continue }
      let data = Data(text.utf8)
      switch section {
      case .settings: document.settings = try decoder.decode(PolicyDocument.Settings.self, from: data)
      case .dlp: document.dlp = try decoder.decode(PolicyDocument.DLP.self, from: data)
      case .threatIntel: document.threatIntel = try decoder.decode(PolicyDocument.ThreatIntel.self, from: data)
      case .aibom: document.aibom = try decoder.decode(PolicyDocument.AIBOM.self, from: data)
      }
    }
    document.missions = try await missions(tenant: tenant, db: db)
    document.agents = try await agents(tenant: tenant, db: db)
    return document
  }

  static func sectionText(tenant: String, _ section: PolicySection, db: any SQLDatabase) async throws -> String? {
    try await db.raw(
      "SELECT document FROM policy_sections WHERE tenant = \(bind: tenant) AND name = \(bind: section.rawValue)"
    ).first()?.decode(column: "document", as: String.self)
  }

  static func agents(tenant: String, id: String? = nil, db: any SQLDatabase) async throws -> [PolicyDocument.Agent] {
    let query: SQLQueryString
    if let id {
      query = "SELECT * FROM agents WHERE tenant = \(bind: tenant) AND id = \(bind: id)"
    } else {
      query = "SELECT * FROM agents WHERE tenant = \(bind: tenant) ORDER BY id"
    }
    return try await db.raw(query).all().map { row in
      let namespace = try row.decode(column: "namespace", as: String?.self)
      let serviceAccount = try row.decode(column: "service_account", as: String?.self)
      return PolicyDocument.Agent(
        id: try row.decode(column: "id", as: String.self),
        description: try row.decode(column: "description", as: String?.self),
        meshIdentity: namespace == nil && serviceAccount == nil
          ? nil : .init(namespace: namespace, serviceAccount: serviceAccount),
        mission: try row.decode(column: "mission", as: String?.self),
        mode: try row.decode(column: "mode", as: String?.self).flatMap(AgentMode.init(rawValue:))
      )
    }
  }

  static func missions(tenant: String, id: String? = nil, db: any SQLDatabase) async throws -> [PolicyDocument.Mission]
  {
    let query: SQLQueryString
    if let id {
      query = "SELECT document FROM missions WHERE tenant = \(bind: tenant) AND id = \(bind: id)"
    } else {
      query = "SELECT document FROM missions WHERE tenant = \(bind: tenant) ORDER BY id"
    }
    let decoder = JSONDecoder()
    return try await db.raw(query).all().map { row in
      try decoder.decode(
        PolicyDocument.Mission.self, from: Data(try row.decode(column: "document", as: String.self).utf8))
    }
  }

  static func insert(tenant: String, _ agent: PolicyDocument.Agent, db: any SQLDatabase) async throws {
    let binding = meshBinding(agent)
    try await db.raw(
      """
      INSERT INTO agents (tenant, id, description, namespace, service_account, mission, mode)
      VALUES (\(bind: tenant), \(bind: agent.id), \(bind: agent.description), \(bind: binding?.namespace),
      \(bind: binding?.serviceAccount), \(bind: agent.mission), \(bind: agent.mode?.rawValue))
      """
    ).run()
  }

  /// Both fields, or nil for "Not mesh-bound" (neither, or empty strings).
  static func meshBinding(_ agent: PolicyDocument.Agent) -> (namespace: String, serviceAccount: String)? {
    guard let namespace = agent.meshIdentity?.namespace, !namespace.isEmpty,
      let serviceAccount = agent.meshIdentity?.serviceAccount, !serviceAccount.isEmpty
    else { return nil }
    return (namespace, serviceAccount)
  }

  static func json(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
  }
}
