import Foundation
import Hummingbird
import RemitEngine

/// Missions: list, view and edit the mission document as YAML or JSON, create, delete.
extension DashboardRoutes {
  struct MissionRow: Sendable {
    var id: String
    var path: String
    var description: String
    var grants: Int
    var egress: String

    init(_ mission: PolicyDocument.Mission) {
      id = mission.id
      path = DashboardRoutes.pathSegment(mission.id)
      description = mission.description ?? ""
      grants = mission.allow?.count ?? 0
      egress = (mission.egress ?? []).joined(separator: ", ")
    }
  }

  struct MissionsView: Sendable {
    var layout: DashboardLayout
    var missions: [MissionRow]
    var hasMissions: Bool
  }

  struct MissionView: Sendable {
    var layout: DashboardLayout
    var isNew: Bool
    var id: String
    var path: String
    var description: String?
    var action: String
    var document: String
    var summary: String?
    var problems: [ControlPlaneError.FieldProblem]
    var hasProblems: Bool
  }

  func addMissionRoutes(to ui: RouterGroup<ControlPlaneRequestContext>) {
    ui.get(
      "/missions",
      use: page { request, _, session in
        let missions = try await store.missions(tenant: session.tenant).map(MissionRow.init)
        let layout = DashboardLayout(
          title: "Missions", session: session, section: .missions, notice: Self.notice(request))
        return try renderer.html(
          "missions", MissionsView(layout: layout, missions: missions, hasMissions: !missions.isEmpty))
      })
    ui.get(
      "/missions/new",
      use: page { _, _, session in
        guard session.canWrite else { throw DashboardError.readOnly }
        return try missionPage(session: session, id: nil, description: nil, document: "")
      })
    ui.post(
      "/missions",
      use: form { _, _, session, form in
        let text = form["document"] ?? ""
        do {
          let mission = try DashboardMissionText.mission(text, pathID: nil)
          _ = try await store.createMission(tenant: session.tenant, mission)
          return .redirect(to: "/ui/missions/\(Self.pathSegment(mission.id))?notice=created")
        } catch let error as ControlPlaneError where error.status == .unprocessableContent || error.status == .conflict
        {
          return try missionPage(session: session, id: nil, description: nil, document: text, error: error)
        }
      })
    ui.get(
      "/missions/:id",
      use: page { request, context, session in
        let mission = try await store.mission(tenant: session.tenant, id: try context.parameters.require("id"))
        return try missionPage(
          session: session, id: mission.id, description: mission.description,
          document: DashboardMissionText.yaml(mission), notice: Self.notice(request))
      })
    ui.post(
      "/missions/:id",
      use: form { _, context, session, form in
        let id = try context.parameters.require("id")
        let current = try await store.mission(tenant: session.tenant, id: id)
        let text = form["document"] ?? ""
        do {
          let mission = try DashboardMissionText.mission(text, pathID: id)
          _ = try await store.replaceMission(tenant: session.tenant, mission)
          return .redirect(to: "/ui/missions/\(Self.pathSegment(id))?notice=saved")
        } catch let error as ControlPlaneError where error.status == .unprocessableContent || error.status == .conflict
        {
          return try missionPage(
            session: session, id: id, description: current.description, document: text, error: error)
        }
      })
    ui.post(
      "/missions/:id/delete",
      use: form { _, context, session, _ in
        let id = try context.parameters.require("id")
        do {
          _ = try await store.deleteMission(tenant: session.tenant, id: id)
          return .redirect(to: "/ui/missions?notice=deleted")
        } catch let error as ControlPlaneError where error.status == .unprocessableContent {
          // Still used by an agent: the validator's message says which.
          let mission = try await store.mission(tenant: session.tenant, id: id)
          return try missionPage(
            session: session, id: id, description: mission.description, document: DashboardMissionText.yaml(mission),
            error: error, summary: "The mission was not deleted.")
        }
      })
  }

  func missionPage(
    session: DashboardSession, id: String?, description: String?, document: String,
    error: ControlPlaneError? = nil, summary: String? = nil, notice: String? = nil
  ) throws -> Response {
    let problems = error?.problems ?? []
    let defaultSummary =
      error.map {
        $0.status == .unprocessableContent ? "The mission was not saved. Fix the problems below." : $0.message
      }
    let view = MissionView(
      layout: DashboardLayout(
        title: id.map { "Mission \($0)" } ?? "New mission", session: session, section: .missions, notice: notice),
      isNew: id == nil, id: id ?? "", path: Self.pathSegment(id ?? ""), description: description,
      action: id.map { "/ui/missions/\(Self.pathSegment($0))" } ?? "/ui/missions",
      document: document, summary: summary ?? defaultSummary, problems: problems, hasProblems: !problems.isEmpty)
    return try renderer.html("mission", view, status: error?.status ?? .ok)
  }
}
