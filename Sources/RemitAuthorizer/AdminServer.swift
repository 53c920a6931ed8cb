import Hummingbird
import Logging

/// The admin listener: `/healthz` (the process is alive) and `/readyz` (a snapshot is loaded and
/// the gRPC listener is up; otherwise 503 with the reasons).
enum AdminServer {
  static func application(
    address: ListenAddress,
    store: SnapshotStore,
    grpcReady: ReadinessFlag,
    logger: Logger
  ) -> some ApplicationProtocol {
    let router = Router()
    router.get("/healthz") { _, _ in "ok\n" }
    router.get("/readyz") { _, _ -> Response in
      var reasons: [String] = []
      if store.current == nil { reasons.append("no policy snapshot is loaded") }
      if !grpcReady.isSet { reasons.append("the gRPC listener is not up") }
      if reasons.isEmpty {
        return Response(status: .ok, body: .init(byteBuffer: .init(string: "ready\n")))
      }
      let text = "not ready: " + reasons.joined(separator: "; ") + "\n"
      return Response(status: .serviceUnavailable, body: .init(byteBuffer: .init(string: text)))
    }
    var adminLogger = logger
    adminLogger.logLevel = .warning
    return Application(
      router: router,
      configuration: .init(address: .hostname(address.host, port: address.port), serverName: "remit-admin"),
      logger: adminLogger
    )
  }
}
