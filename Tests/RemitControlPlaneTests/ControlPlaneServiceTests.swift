import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization
import Testing

@testable import RemitControlPlane

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

@Suite struct ControlPlaneServiceTests {
  /// `remit control-plane` as a service: bootstraps once, serves on the bound port, and returns
  /// when its task is cancelled (the same path as SIGTERM's graceful shutdown).
  @Test func runServesAndStopsWhenCancelled() async throws {
    let announced = Mutex<[String]>([])
    let boundPort = Mutex<Int?>(nil)
    let controlPlane = ControlPlane(
      host: "127.0.0.1", port: 0, database: .sqliteMemory, bootstrapAdminKey: nil,
      logger: ControlPlaneFixture.quietLogger)
    let task = Task {
      try await controlPlane.run(
        announce: { issued in announced.withLock { $0.append(issued.key) } },
        onServerRunning: { channel in boundPort.withLock { $0 = channel.localAddress?.port } }
      )
    }
    let clock = ContinuousClock()
    let deadline = clock.now + .seconds(30)
    while boundPort.withLock({ $0 }) == nil, clock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
    let port = try #require(boundPort.withLock { $0 })
    let key = try #require(announced.withLock { $0.first })
    #expect(announced.withLock { $0.count } == 1)

    var request = URLRequest(url: try #require(URL(string: "http://127.0.0.1:\(port)/v1/snapshot")))
    request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization")
    let (data, response) = try await URLSession.shared.data(for: request)
    #expect((response as? HTTPURLResponse)?.statusCode == 200)
    #expect(String(decoding: data, as: UTF8.self).contains(#""version":"1""#))

    task.cancel()
    try await task.value
  }

  @Test func anUnexpectedFailureIsAJSON500WithoutDetails() async throws {
    let fixture = try await ControlPlaneFixture.make()
    let application = ControlPlane.application(
      store: fixture.store, host: "127.0.0.1", port: 0, logger: ControlPlaneFixture.quietLogger)
    try await application.test(.router) { client in
      // Authentication itself needs the database; closing it makes every query fail.
      try await fixture.store.close()
      let response = try await client.send(.get, "/v1/agents", key: fixture.adminKey)
      #expect(response.status == .internalServerError)
      #expect(response.errorBody?.error.code == "internal_error")
      #expect(response.text.contains("see its log"))
    }
  }
}
