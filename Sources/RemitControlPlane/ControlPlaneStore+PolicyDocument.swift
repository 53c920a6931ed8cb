import Foundation
import RemitEngine
import SQLKit

extension ControlPlaneStore {
  /// The tenant's whole policy document, as `GET /v1/snapshot` serves it, and its version.
  public func policyDocument(tenant: String) async throws -> (document: PolicyDocument, version: Int64) {
    let snapshot = try await snapshot(tenant: tenant)
    guard let version = snapshot.document.metadata?.version.flatMap({ Int64($0.value) }) else {
      throw ControlPlaneError(
        status: .internalServerError, code: "stored_policy_invalid", message: "the stored policy has no version")
    }
    return (snapshot.document, version)
  }

  /// Replaces the tenant's agents, missions and sections with `document`'s in one transaction and
  /// one version bump, and returns the new version. `metadata` is ignored: the store owns names and
  /// versions. An invalid document is a 422 with the validator's paths (`missions[2].allow[0].to`)
  /// and changes nothing. `dryRun` validates only and returns the current version.
  public func replacePolicy(tenant: String, _ document: PolicyDocument, dryRun: Bool) async throws -> Int64 {
    var candidate = document
    candidate.metadata = .init(name: tenant, version: nil)
    var problems: [ControlPlaneError.FieldProblem] = []
    for (index, agent) in (candidate.agents ?? []).enumerated() {
      do {
        try Self.checkAgentFields(agent)
      } catch let error as ControlPlaneError {
        problems += error.problems.map { .init(field: "agents[\(index)].\($0.field)", message: $0.message) }
      }
    }
    do {
      _ = try PolicySnapshot(candidate)
    } catch {
      problems += error.issues.map { .init(field: $0.path, message: $0.message) }
    }
    if !problems.isEmpty {
      // The same issue may come from both checks; list it once.
      var seen = Set<String>()
      throw ControlPlaneError.validation(problems.filter { seen.insert("\($0.field)\u{0}\($0.message)").inserted })
    }
    if dryRun { return try await policyVersion(tenant: tenant) }

    let sections: [(PolicySection, String?)] = [
      (.settings, try candidate.settings.map { try Self.json($0) }),
      (.dlp, try candidate.dlp.map { try Self.json($0) }),
      (.threatIntel, try candidate.threatIntel.map { try Self.json($0) }),
      (.aibom, try candidate.aibom.map { try Self.json($0) }),
    ]
    let missions = try (candidate.missions ?? []).map { ($0.id, try Self.json($0)) }
    let agents = candidate.agents ?? []
    return try await commit(tenant: tenant, focus: .none) { db in
      try await db.raw("DELETE FROM agents WHERE tenant = \(bind: tenant)").run()
      try await db.raw("DELETE FROM missions WHERE tenant = \(bind: tenant)").run()
      try await db.raw("DELETE FROM policy_sections WHERE tenant = \(bind: tenant)").run()
      for (section, json) in sections {
        guard let json else { continue }
        try await db.raw(
          """
          INSERT INTO policy_sections (tenant, name, document) VALUES (\(bind: tenant), \(bind: section.rawValue), \(bind: json))
          """
        ).run()
      }
      for (id, json) in missions {
        try await db.raw(
          "INSERT INTO missions (tenant, id, document) VALUES (\(bind: tenant), \(bind: id), \(bind: json))"
        ).run()
      }
      for agent in agents { try await Self.insert(tenant: tenant, agent, db: db) }
    }
  }
}
