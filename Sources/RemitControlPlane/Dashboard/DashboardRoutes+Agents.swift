import Foundation
import Hummingbird
import RemitEngine

/// Agents: list, detail, Register Agent, Edit, delete. Forms go through the API's own body reader
/// and the store, so their messages are the API's.
extension DashboardRoutes {
  struct AgentRow: Sendable {
    var id: String
    var path: String
    var description: String?
    var mission: String?
    var missionPath: String
    var mode: String
    /// `namespace/serviceAccount`, or nil: "Not mesh-bound".
    var identity: String?

    init(_ agent: PolicyDocument.Agent) {
      id = agent.id
      path = DashboardRoutes.pathSegment(agent.id)
      description = agent.description.flatMap { $0.isEmpty ? nil : $0 }
      mission = agent.mission
      missionPath = DashboardRoutes.pathSegment(agent.mission ?? "")
      mode = agent.mode?.rawValue ?? "enforce (default)"
      identity = ControlPlaneStore.meshBinding(agent).map { "\($0.namespace)/\($0.serviceAccount)" }
    }
  }

  struct AgentsView: Sendable {
    var layout: DashboardLayout
    var agents: [AgentRow]
    var hasAgents: Bool
  }

  struct AgentView: Sendable {
    var layout: DashboardLayout
    var agent: AgentRow
  }

  /// The messages next to each field of the agent form.
  struct AgentFieldErrors: Sendable {
    var id: String?
    var description: String?
    var mission: String?
    var mode: String?
    var identity: String?
    var namespace: String?
    var serviceAccount: String?
  }

  struct AgentFormView: Sendable {
    var layout: DashboardLayout
    var isNew: Bool
    var action: String
    var cancel: String
    var id: String
    var description: String
    var namespace: String
    var serviceAccount: String
    var missionOptions: [DashboardOption]
    var modeOptions: [DashboardOption]
    var errors: AgentFieldErrors
    var summary: String?
    var otherErrors: [String]
    var hasOtherErrors: Bool
  }

  /// What the form holds, as typed.
  struct AgentFormValues: Sendable {
    var id = ""
    var description = ""
    var mission = ""
    var mode = ""
    var namespace = ""
    var serviceAccount = ""

    init() {}

    init(_ agent: PolicyDocument.Agent) {
      id = agent.id
      description = agent.description ?? ""
      mission = agent.mission ?? ""
      mode = agent.mode?.rawValue ?? ""
      namespace = agent.meshIdentity?.namespace ?? ""
      serviceAccount = agent.meshIdentity?.serviceAccount ?? ""
    }

    init(_ form: DashboardForm, id: String?) {
      self.id = id ?? form["id"] ?? ""
      description = form["description"] ?? ""
      mission = form["mission"] ?? ""
      mode = form["mode"] ?? ""
      namespace = form["namespace"] ?? ""
      serviceAccount = form["serviceAccount"] ?? ""
    }

    /// The API's JSON body for these values: empty fields are left out, as a client would.
    func jsonBody() throws -> [UInt8] {
      var object: [String: Any] = ["id": id]
      if !description.isEmpty { object["description"] = description }
      if !mission.isEmpty { object["mission"] = mission }
      if !mode.isEmpty { object["mode"] = mode }
      var identity: [String: Any] = [:]
      if !namespace.isEmpty { identity["namespace"] = namespace }
      if !serviceAccount.isEmpty { identity["serviceAccount"] = serviceAccount }
      if !identity.isEmpty { object["meshIdentity"] = identity }
      return Array(try JSONSerialization.data(withJSONObject: object))
    }
  }

  func addAgentRoutes(to ui: RouterGroup<ControlPlaneRequestContext>) {
    ui.get(
      "/agents",
      use: page { request, _, session in
        let agents = try await store.agents(tenant: session.tenant).map(AgentRow.init)
        let layout = DashboardLayout(
          title: "Agents", session: session, section: .agents, notice: Self.notice(request))
        return try renderer.html("agents", AgentsView(layout: layout, agents: agents, hasAgents: !agents.isEmpty))
      })
    ui.get(
      "/agents/new",
      use: page { _, _, session in
        guard session.canWrite else { throw DashboardError.readOnly }
        return try await agentForm(session: session, values: AgentFormValues(), isNew: true)
      })
    ui.post(
      "/agents",
      use: form { _, _, session, form in
        let values = AgentFormValues(form, id: nil)
        do {
          let agent = try APIRequestBody.agent(try values.jsonBody())
          _ = try await store.createAgent(tenant: session.tenant, agent)
          return .redirect(to: "/ui/agents/\(Self.pathSegment(agent.id))?notice=created")
        } catch let error as ControlPlaneError where error.status == .unprocessableContent || error.status == .conflict
        {
          return try await agentForm(session: session, values: values, isNew: true, error: error)
        }
      })
    ui.get(
      "/agents/:id",
      use: page { request, context, session in
        let agent = try await store.agent(tenant: session.tenant, id: try context.parameters.require("id"))
        let layout = DashboardLayout(
          title: "Agent \(agent.id)", session: session, section: .agents, notice: Self.notice(request))
        return try renderer.html("agent", AgentView(layout: layout, agent: AgentRow(agent)))
      })
    ui.get(
      "/agents/:id/edit",
      use: page { _, context, session in
        guard session.canWrite else { throw DashboardError.readOnly }
        let agent = try await store.agent(tenant: session.tenant, id: try context.parameters.require("id"))
        return try await agentForm(session: session, values: AgentFormValues(agent), isNew: false)
      })
    ui.post(
      "/agents/:id",
      use: form { _, context, session, form in
        let id = try context.parameters.require("id")
        let values = AgentFormValues(form, id: id)
        do {
          let agent = try APIRequestBody.agent(try values.jsonBody(), pathID: id)
          _ = try await store.replaceAgent(tenant: session.tenant, agent)
          return .redirect(to: "/ui/agents/\(Self.pathSegment(id))?notice=saved")
        } catch let error as ControlPlaneError where error.status == .unprocessableContent || error.status == .conflict
        {
          return try await agentForm(session: session, values: values, isNew: false, error: error)
        }
      })
    ui.post(
      "/agents/:id/delete",
      use: form { _, context, session, _ in
        _ = try await store.deleteAgent(tenant: session.tenant, id: try context.parameters.require("id"))
        return .redirect(to: "/ui/agents?notice=deleted")
      })
  }

  /// The Register Agent or Edit form, with the API's messages beside their fields when `error`
  /// is a validation failure (422) or a conflict (409).
  func agentForm(
    session: DashboardSession, values: AgentFormValues, isNew: Bool, error: ControlPlaneError? = nil
  ) async throws -> Response {
    var missionIDs = try await store.missions(tenant: session.tenant).map(\.id)
    if !values.mission.isEmpty, !missionIDs.contains(values.mission) { missionIDs.append(values.mission) }
    var missionOptions = [DashboardOption(value: "", label: "(none)", selected: values.mission.isEmpty)]
    missionOptions += missionIDs.map { DashboardOption(value: $0, label: $0, selected: $0 == values.mission) }
    var modeOptions = [DashboardOption(value: "", label: "(default: enforce)", selected: values.mode.isEmpty)]
    modeOptions += AgentMode.allCases.map {
      DashboardOption(value: $0.rawValue, label: $0.rawValue, selected: $0.rawValue == values.mode)
    }
    if !values.mode.isEmpty, AgentMode(rawValue: values.mode) == nil {
      modeOptions.append(DashboardOption(value: values.mode, label: values.mode, selected: true))
    }

    var errors = AgentFieldErrors()
    var others: [String] = []
    for problem in error?.problems ?? [] {
      func add(_ field: inout String?) { field = field.map { "\($0); \(problem.message)" } ?? problem.message }
      switch problem.field {
      case "id": add(&errors.id)
      case "description": add(&errors.description)
      case "mission": add(&errors.mission)
      case "mode": add(&errors.mode)
      case "meshIdentity": add(&errors.identity)
      case "meshIdentity.namespace": add(&errors.namespace)
      case "meshIdentity.serviceAccount": add(&errors.serviceAccount)
      default: others.append(problem.field.isEmpty ? problem.message : "\(problem.field): \(problem.message)")
      }
    }
    var summary: String?
    if let error {
      summary =
        error.status == .unprocessableContent
        ? "The agent was not saved. Fix the fields marked below." : error.message
    }
    let title = isNew ? "Register Agent" : "Edit agent \(values.id)"
    let view = AgentFormView(
      layout: DashboardLayout(title: title, session: session, section: .agents),
      isNew: isNew,
      action: isNew ? "/ui/agents" : "/ui/agents/\(Self.pathSegment(values.id))",
      cancel: isNew ? "/ui/agents" : "/ui/agents/\(Self.pathSegment(values.id))",
      id: values.id, description: values.description, namespace: values.namespace,
      serviceAccount: values.serviceAccount, missionOptions: missionOptions, modeOptions: modeOptions,
      errors: errors, summary: summary, otherErrors: others, hasOtherErrors: !others.isEmpty)
    return try renderer.html("agent-form", view, status: error?.status ?? .ok)
  }
}
