import Foundation
import Hummingbird
import JWTKit
import Logging

/// What `/metrics` reads at scrape time.
struct MetricsSources: Sendable {
  let metrics: AuthorizerMetrics
  let sync: SyncStatus?
  let audit: AuditQueue?
}

/// The admin listener: `/healthz` (the process is alive), `/readyz` (a snapshot is loaded and
/// the gRPC listener is up; otherwise 503 with the reasons) and `/metrics` (Prometheus text).
enum AdminServer {
  static func application(
    address: ListenAddress,
    store: SnapshotStore,
    grpcReady: ReadinessFlag,
    logger: Logger,
    metrics: MetricsSources,
    broker: CredentialBroker
  ) -> some ApplicationProtocol {
    let router = Router()
    router.get("/.well-known/jwks.json") { _, _ -> Response in
      // The keys credentials from this pod are signed with; none while brokering is disabled.
      let jwks = broker.key?.jwks ?? JWKS(keys: [])
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
      var headers = HTTPFields()
      headers[.contentType] = "application/json"
      headers[.cacheControl] = "max-age=60"
      return Response(
        status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(jwks))))
    }
    router.get("/healthz") { _, _ in "ok\n" }
    router.get("/metrics") { _, _ -> Response in
      let text = metrics.metrics.exposition(
        snapshot: store.current, sync: metrics.sync?.current, audit: metrics.audit?.statistics,
        brokerEnabled: broker.key != nil)
      var headers = HTTPFields()
      headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
      return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: text)))
    }
    router.get("/readyz") { _, _ -> Response in
      var reasons: [String] = []
      if store.current == nil { reasons.append("no policy snapshot is loaded") }
      if grpcReady.isDraining {
        reasons.append("shutting down")
      } else if !grpcReady.isSet {
        reasons.append("the gRPC listener is not up")
      }
      if reasons.isEmpty {
        // Ready either way; brokering off is a detail an operator must see, not a reason to stop routing.
        var text = "ready\n"
        if let error = broker.disabledReason {
          text += "credential broker disabled: \(error.message)\n"
        }
        return Response(status: .ok, body: .init(byteBuffer: .init(string: text)))
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
