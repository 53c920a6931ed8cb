import EnvoyAPI
import GRPCCore

/// `grpc.health.v1.Health` on the gRPC port: SERVING once a snapshot is loaded, for the overall
/// server ("") and for the Authorization service by name; NOT_SERVING once shutdown begins, when
/// Watch streams are told so and end (an open Watch must not hold the shutdown up).
public struct HealthService: Grpc_Health_V1_Health.SimpleServiceProtocol {
  static let knownServices: Set<String> = ["", "envoy.service.auth.v3.Authorization"]
  let store: SnapshotStore
  let readiness: ReadinessFlag?

  public init(store: SnapshotStore) {
    self.init(store: store, readiness: nil)
  }

  init(store: SnapshotStore, readiness: ReadinessFlag?) {
    self.store = store
    self.readiness = readiness
  }

  var isDraining: Bool { readiness?.isDraining ?? false }

  func status(for service: String) throws -> Grpc_Health_V1_HealthCheckResponse.ServingStatus {
    guard Self.knownServices.contains(service) else {
      throw RPCError(code: .notFound, message: "unknown service")
    }
    return store.current == nil || isDraining ? .notServing : .serving
  }

  public func check(
    request: Grpc_Health_V1_HealthCheckRequest,
    context: ServerContext
  ) async throws -> Grpc_Health_V1_HealthCheckResponse {
    var response = Grpc_Health_V1_HealthCheckResponse()
    response.status = try status(for: request.service)
    return response
  }

  public func watch(
    request: Grpc_Health_V1_HealthCheckRequest,
    response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>,
    context: ServerContext
  ) async throws {
    var last: Grpc_Health_V1_HealthCheckResponse.ServingStatus? = nil
    while !Task.isCancelled {
      let current = Self.knownServices.contains(request.service) ? try status(for: request.service) : .serviceUnknown
      if current != last {
        var message = Grpc_Health_V1_HealthCheckResponse()
        message.status = current
        try await response.write(message)
        last = current
      }
      if isDraining { return }
      try await Task.sleep(for: .milliseconds(200))
    }
  }
}
