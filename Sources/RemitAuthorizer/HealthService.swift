import EnvoyAPI
import GRPCCore

/// `grpc.health.v1.Health` on the gRPC port: SERVING once a snapshot is loaded, for the overall
/// server ("") and for the Authorization service by name.
public struct HealthService: Grpc_Health_V1_Health.SimpleServiceProtocol {
  static let knownServices: Set<String> = ["", "envoy.service.auth.v3.Authorization"]
  let store: SnapshotStore

  public init(store: SnapshotStore) {
    self.store = store
  }

  func status(for service: String) throws -> Grpc_Health_V1_HealthCheckResponse.ServingStatus {
    guard Self.knownServices.contains(service) else {
      throw RPCError(code: .notFound, message: "unknown service")
    }
    return store.current == nil ? .notServing : .serving
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
      try await Task.sleep(for: .milliseconds(500))
    }
  }
}
