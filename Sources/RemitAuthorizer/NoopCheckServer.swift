import EnvoyAPI
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import ServiceLifecycle

/// A Check server that allows everything without deciding: the same gRPC stack as the authorizer
/// (grpc-swift-2 on the HTTP/2 POSIX transport, the generated service), so a benchmark can put
/// it beside `remit serve` and attribute the difference to Remit's work. Never for production.
public struct NoopCheckServer: Sendable {
  public let listen: ListenAddress
  public let logger: Logger

  public init(listen: ListenAddress, logger: Logger) {
    self.listen = listen
    self.logger = logger
  }

  struct Service: Envoy_Service_Auth_V3_Authorization.SimpleServiceProtocol {
    func check(
      request: Envoy_Service_Auth_V3_CheckRequest, context: ServerContext
    ) async throws -> Envoy_Service_Auth_V3_CheckResponse {
      var response = Envoy_Service_Auth_V3_CheckResponse()
      response.okResponse = Envoy_Service_Auth_V3_OkHttpResponse()
      return response
    }
  }

  /// Serves until SIGTERM or SIGINT; `onListening` receives the bound port.
  public func run(onListening: @Sendable @escaping (Int) -> Void = { _ in }) async throws {
    let transport = HTTP2ServerTransport.Posix(address: listen.socketAddress, transportSecurity: .plaintext)
    let server = GRPCServer(transport: transport, services: [Service()])
    let readiness = ReadinessFlag()
    let listen = listen
    let report = AfterStart {
      let address = try await transport.listeningAddress
      readiness.set(true)
      onListening(address.ipv4?.port ?? address.ipv6?.port ?? listen.port)
    }
    let group = ServiceGroup(
      configuration: .init(
        services: [
          .init(service: GRPCServerService(server: server, readiness: readiness, drainDelay: .zero, logger: logger)),
          .init(service: report),
        ],
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger
      ))
    try await group.run()
  }
}
