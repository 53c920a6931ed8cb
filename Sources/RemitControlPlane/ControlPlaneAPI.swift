import Foundation
import Hummingbird
import RemitEngine

/// The `/v1` JSON API. Every handler authenticates the bearer key first and scopes every query by
/// the key's tenant, so another tenant's resources are simply not found (404).
public enum ControlPlaneAPI {
  /// The longest long-poll a client may ask for.
  public static let maximumWaitSeconds = 60
  /// Carries the tenant's policy version on snapshot responses and on every write.
  public static let policyVersionHeader: HTTPFields.Element.Name = {
    // A constant, valid header token.
    guard let name = HTTPFields.Element.Name("Remit-Policy-Version") else { preconditionFailure("invalid header name") }
    return name
  }()

  /// What a route needs from the key's role.
  enum Access {
    /// Readers and admins.
    case read
    /// Admins only.
    case write
    /// Authorizers too: the snapshot.
    case snapshot
    /// Authorizers and admins: audit batches and authorizer reports (readers may not forge them).
    case report

    func allows(_ role: APIKeyRole) -> Bool {
      switch (self, role) {
      case (_, .admin): true
      case (.read, .reader), (.snapshot, .reader), (.snapshot, .authorizer), (.report, .authorizer): true
      default: false
      }
    }
  }

  public static func router(store: ControlPlaneStore) -> Router<ControlPlaneRequestContext> {
    let router = Router(context: ControlPlaneRequestContext.self)
    router.add(middleware: ControlPlaneErrorMiddleware())
    router.get("/healthz") { _, _ in "ok\n" }
    router.get("/openapi.yaml") { _, _ in
      var headers = HTTPFields()
      headers[.contentType] = "application/yaml"
      return Response(
        status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.yaml + "\n")))
    }
    let v1 = router.group("/v1")

    func route(
      _ path: RouterPath,
      _ method: HTTPRequest.Method,
      _ access: Access,
      _ handler: @escaping @Sendable (Request, ControlPlaneRequestContext, APIPrincipal) async throws -> Response
    ) {
      v1.on(path, method: method) { request, context in
        let principal = try await authenticate(request, store: store)
        guard access.allows(principal.role) else { throw ControlPlaneError.forbidden(principal.role) }
        return try await handler(request, context, principal)
      }
    }

    // Agents
    route("/agents", .get, .read) { _, _, principal in
      try JSONResponse.make(try await store.agents(tenant: principal.tenant))
    }
    route("/agents", .post, .write) { request, _, principal in
      let agent = try APIRequestBody.agent(try await APIRequestBody.bytes(request, limit: APIRequestBody.agentLimit))
      let version = try await store.createAgent(tenant: principal.tenant, agent)
      return try written(.created, try await store.agent(tenant: principal.tenant, id: agent.id), version: version)
    }
    route("/agents/:id", .get, .read) { _, context, principal in
      try JSONResponse.make(try await store.agent(tenant: principal.tenant, id: try context.parameters.require("id")))
    }
    route("/agents/:id", .put, .write) { request, context, principal in
      let id = try context.parameters.require("id")
      let agent = try APIRequestBody.agent(
        try await APIRequestBody.bytes(request, limit: APIRequestBody.agentLimit), pathID: id)
      let version = try await store.replaceAgent(tenant: principal.tenant, agent)
      return try written(.ok, try await store.agent(tenant: principal.tenant, id: id), version: version)
    }
    route("/agents/:id", .delete, .write) { _, context, principal in
      let version = try await store.deleteAgent(tenant: principal.tenant, id: try context.parameters.require("id"))
      return noContent(version: version)
    }

    // Missions
    route("/missions", .get, .read) { _, _, principal in
      try JSONResponse.make(try await store.missions(tenant: principal.tenant))
    }
    route("/missions", .post, .write) { request, _, principal in
      let mission = try APIRequestBody.mission(
        try await APIRequestBody.bytes(request, limit: APIRequestBody.missionLimit))
      let version = try await store.createMission(tenant: principal.tenant, mission)
      return try written(.created, try await store.mission(tenant: principal.tenant, id: mission.id), version: version)
    }
    route("/missions/:id", .get, .read) { _, context, principal in
      try JSONResponse.make(try await store.mission(tenant: principal.tenant, id: try context.parameters.require("id")))
    }
    route("/missions/:id", .put, .write) { request, context, principal in
      let id = try context.parameters.require("id")
      let mission = try APIRequestBody.mission(
        try await APIRequestBody.bytes(request, limit: APIRequestBody.missionLimit), pathID: id)
      let version = try await store.replaceMission(tenant: principal.tenant, mission)
      return try written(.ok, try await store.mission(tenant: principal.tenant, id: id), version: version)
    }
    route("/missions/:id", .delete, .write) { _, context, principal in
      let version = try await store.deleteMission(tenant: principal.tenant, id: try context.parameters.require("id"))
      return noContent(version: version)
    }

    // The whole policy document
    route("/policy", .get, .read) { _, _, principal in
      let (document, version) = try await store.policyDocument(tenant: principal.tenant)
      var response = try JSONResponse.make(document)
      response.headers[policyVersionHeader] = String(version)
      return response
    }
    route("/policy", .put, .write) { request, _, principal in
      try await replacePolicy(request, tenant: principal.tenant, store: store)
    }

    // Policy sections
    route("/policy/:section", .get, .read) { _, context, principal in
      let section = try policySection(context)
      return rawJSON(.ok, try await store.section(tenant: principal.tenant, section), version: nil)
    }
    route("/policy/:section", .put, .write) { request, context, principal in
      let section = try policySection(context)
      let json = try APIRequestBody.section(
        try await APIRequestBody.bytes(request, limit: APIRequestBody.sectionLimit), section)
      let version = try await store.replaceSection(tenant: principal.tenant, section, json: json)
      return rawJSON(.ok, try await store.section(tenant: principal.tenant, section), version: version)
    }

    // API keys
    route("/api-keys", .get, .write) { _, _, principal in
      try JSONResponse.make(try await store.listKeys(tenant: principal.tenant))
    }
    route("/api-keys", .post, .write) { request, _, principal in
      struct NewKey: Decodable { var role: String }
      let bytes = try await APIRequestBody.bytes(request, limit: 4096)
      guard let body = try? JSONDecoder().decode(NewKey.self, from: Data(bytes)) else {
        throw ControlPlaneError.validation(field: "role", "is required: admin, authorizer or reader")
      }
      guard let role = APIKeyRole(rawValue: body.role) else {
        throw ControlPlaneError.validation(field: "role", "must be admin, authorizer or reader")
      }
      return try JSONResponse.make(status: .created, try await store.issueKey(tenant: principal.tenant, role: role))
    }

    route("/api-keys/:id", .delete, .write) { _, context, principal in
      try await store.deleteKey(tenant: principal.tenant, id: try context.parameters.require("id"))
      return Response(status: .noContent)
    }

    // Secrets: write-only values
    route("/secrets", .get, .write) { _, _, principal in
      try JSONResponse.make(try await store.secrets(tenant: principal.tenant))
    }
    route("/secrets/:name", .put, .write) { request, context, principal in
      struct SecretBody: Decodable { var value: String }
      // The JSON escaping of a 64 KiB value can take up to six times its size.
      let bytes = try await APIRequestBody.bytes(request, limit: 6 * ControlPlaneStore.maximumSecretBytes + 1024)
      let body = try decodeJSON(SecretBody.self, bytes)
      try await store.putSecret(
        tenant: principal.tenant, name: try context.parameters.require("name"), value: body.value)
      return Response(status: .noContent)
    }
    route("/secrets/:name", .delete, .write) { _, context, principal in
      try await store.deleteSecret(tenant: principal.tenant, name: try context.parameters.require("name"))
      return Response(status: .noContent)
    }

    // Snapshot
    route("/snapshot", .get, .snapshot) { request, _, principal in
      try await snapshot(request, tenant: principal.tenant, store: store)
    }

    // Audit events
    route("/audit/events", .post, .report) { request, _, principal in
      let batch = try AuditBatch.decode(try await APIRequestBody.bytes(request, limit: AuditBatch.bodyLimit))
      let result = try await store.appendAuditEvents(
        tenant: principal.tenant, authorizer: batch.authorizer, batch.events)
      return try JSONResponse.make(
        status: .accepted, AuditBatch.Result(accepted: result.accepted, duplicates: result.duplicates))
    }
    route("/audit/events", .get, .read) { request, _, principal in
      try JSONResponse.make(try await store.auditEvents(tenant: principal.tenant, try auditQuery(request)))
    }

    // Authorizers
    route("/authorizers/:instance", .put, .report) { request, context, principal in
      let instance = try context.parameters.require("instance")
      let report = try decodeJSON(
        AuthorizerReport.self, try await APIRequestBody.bytes(request, limit: APIRequestBody.reportLimit))
      return try JSONResponse.make(
        try await store.reportAuthorizer(tenant: principal.tenant, id: instance, report: report))
    }
    route("/authorizers", .get, .read) { _, _, principal in
      try JSONResponse.make(try await store.authorizers(tenant: principal.tenant))
    }
    route("/authorizers/:instance/secrets", .get, .report) { _, context, principal in
      let instance = try context.parameters.require("instance")
      var response = try JSONResponse.make(try await store.sealedSecrets(tenant: principal.tenant, instance: instance))
      response.headers[.cacheControl] = "no-store"
      return response
    }

    // Delegation chains (SPEC section 6)
    route("/delegations/hops", .post, .report) { request, _, principal in
      let hop = try decodeJSON(
        DelegationHop.self, try await APIRequestBody.bytes(request, limit: APIRequestBody.hopLimit))
      return try JSONResponse.make(try await store.recordHop(tenant: principal.tenant, hop))
    }
    route("/delegations/chains", .get, .read) { request, _, principal in
      var limit = ControlPlaneStore.defaultChainListLimit
      if let text = request.uri.queryParameters.get("limit") {
        guard let value = Int(text), (1...ControlPlaneStore.maximumChainListLimit).contains(value) else {
          throw ControlPlaneError.validation(
            field: "limit", "must be an integer from 1 to \(ControlPlaneStore.maximumChainListLimit)")
        }
        limit = value
      }
      return try JSONResponse.make(try await store.delegationChains(tenant: principal.tenant, limit: limit))
    }
    route("/delegations/chains/:id", .get, .read) { _, context, principal in
      try JSONResponse.make(
        try await store.delegationChain(tenant: principal.tenant, id: try context.parameters.require("id")))
    }

    // Public signing keys: no authentication, so tools verify minted tokens without calling anyone.
    router.get("/.well-known/jwks.json") { request, _ -> Response in
      var tenant: String?
      if let text = request.uri.queryParameters.get("tenant") {
        if let problem = PolicyRules.identifierProblem(text) {
          throw ControlPlaneError.validation(field: "tenant", problem)
        }
        tenant = text
      }
      var response = try JSONResponse.make(try await store.publishedSigningKeys(tenant: tenant))
      response.headers[.cacheControl] = "public, max-age=60"
      return response
    }
    return router
  }

  /// `GET /v1/snapshot[?knownVersion=N&waitSeconds=S]`. Without `knownVersion`: the document now.
  /// With it: the document as soon as the version differs from N, or 304 Not Modified (no body)
  /// when S seconds pass without a change (S from 0 to 60, default 0).
  static func snapshot(_ request: Request, tenant: String, store: ControlPlaneStore) async throws -> Response {
    let parameters = request.uri.queryParameters
    var knownVersion: Int64?
    if let text = parameters.get("knownVersion") {
      guard let value = Int64(text), value >= 0 else {
        throw ControlPlaneError.validation(field: "knownVersion", "must be a non-negative integer")
      }
      knownVersion = value
    }
    var waitSeconds = 0
    if let text = parameters.get("waitSeconds") {
      guard let value = Int(text), (0...maximumWaitSeconds).contains(value) else {
        throw ControlPlaneError.validation(field: "waitSeconds", "must be an integer from 0 to \(maximumWaitSeconds)")
      }
      waitSeconds = value
    }
    if let knownVersion {
      var current = try await store.policyVersion(tenant: tenant)
      if current == knownVersion, waitSeconds > 0 {
        let result = await store.versionWatch.waitForChange(
          tenant: tenant, after: knownVersion, timeout: .seconds(waitSeconds))
        if result == .tooManyWaiters {
          var response = try ControlPlaneError(
            status: .serviceUnavailable, code: "too_many_waiters",
            message: "too many long-polls are waiting; retry shortly"
          ).makeResponse()
          response.headers[.retryAfter] = "1"
          return response
        }
        current = try await store.policyVersion(tenant: tenant)
      }
      if current == knownVersion {
        var headers = HTTPFields()
        headers[policyVersionHeader] = String(current)
        return Response(status: .notModified, headers: headers)
      }
    }
    let snapshot = try await store.snapshot(tenant: tenant)
    var response = try JSONResponse.make(snapshot.document)
    response.headers[policyVersionHeader] = snapshot.version
    return response
  }

  static func authenticate(_ request: Request, store: ControlPlaneStore) async throws -> APIPrincipal {
    guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
      let principal = try await store.authenticate(key: String(header.dropFirst("Bearer ".count)))
    else { throw ControlPlaneError.unauthenticated }
    return principal
  }

  static func policySection(_ context: ControlPlaneRequestContext) throws -> PolicySection {
    let name = try context.parameters.require("section")
    guard let section = PolicySection(rawValue: name) else {
      throw ControlPlaneError.notFound(
        "policy section \(name.policyErrorExcerptForAPI) (use settings, dlp, threatIntel or aibom)")
    }
    return section
  }

  static func written(_ status: HTTPResponse.Status, _ value: some Encodable, version: Int64) throws -> Response {
    var response = try JSONResponse.make(status: status, value)
    response.headers[policyVersionHeader] = String(version)
    return response
  }

  static func rawJSON(_ status: HTTPResponse.Status, _ bytes: [UInt8], version: Int64?) -> Response {
    var headers = HTTPFields()
    headers[.contentType] = "application/json"
    if let version { headers[policyVersionHeader] = String(version) }
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
  }

  static func noContent(version: Int64) -> Response {
    var headers = HTTPFields()
    headers[policyVersionHeader] = String(version)
    return Response(status: .noContent, headers: headers)
  }
}

extension String {
  /// At most 64 characters of a client-supplied name, for messages.
  var policyErrorExcerptForAPI: String { utf8.count <= 64 ? self : String(prefix(64)) + "…" }
}
