import EnvoyAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import Logging
import Synchronization

@testable import RemitAuthorizer

/// Collects log lines written by the authorizer under test.
final class LogCapture: Sendable {
  private let lines = Mutex<[String]>([])

  var sink: LogSink { LogSink { line in self.lines.withLock { $0.append(line) } } }

  var all: [String] { lines.withLock { $0 } }

  /// Parsed JSON objects of every line.
  var objects: [[String: Any]] {
    all.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
  }

  var decisions: [[String: Any]] { objects.filter { $0["message"] as? String == "ext_authz decision" } }
}

/// Starts a real authorizer on 127.0.0.1:0 with a policy file in a temporary directory, runs
/// `body` with a connected Authorization and Health client, then shuts it down.
func withAuthorizer(
  policy: String,
  _ body: @Sendable (AuthorizerClients, URL, LogCapture) async throws -> Void
) async throws {
  let directory = FileManager.default.temporaryDirectory.appendingPathComponent("remit-test-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(at: directory) }
  let policyFile = directory.appendingPathComponent("policy.yaml")
  try Data(policy.utf8).write(to: policyFile)

  let capture = LogCapture()
  let sink = capture.sink
  let logger = Logger(label: "test") { JSONLogHandler(label: $0, sink: sink) }
  let configuration = AuthorizerConfiguration(
    policyFile: policyFile.path,
    listen: ListenAddress(host: "127.0.0.1", port: 0),
    adminListen: nil,
    policyPollInterval: .milliseconds(50)
  )
  let authorizer = try Authorizer(configuration: configuration, logger: logger)
  let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
  try await withThrowingTaskGroup(of: Void.self) { group in
    group.addTask {
      defer { continuation.finish() }
      try await authorizer.run(onListening: { continuation.yield($0) })
    }
    var iterator = ports.makeAsyncIterator()
    guard let port = await iterator.next() else { throw CancellationError() }
    try await withGRPCClient(
      transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
    ) { client in
      try await body(
        AuthorizerClients(
          authorization: Envoy_Service_Auth_V3_Authorization.Client(wrapping: client),
          health: Grpc_Health_V1_Health.Client(wrapping: client),
          raw: client
        ),
        policyFile,
        capture
      )
    }
    group.cancelAll()
  }
}

struct AuthorizerClients: Sendable {
  let authorization: Envoy_Service_Auth_V3_Authorization.Client<HTTP2ClientTransport.Posix>
  let health: Grpc_Health_V1_Health.Client<HTTP2ClientTransport.Posix>
  /// For calls with hand-made bytes.
  let raw: GRPCClient<HTTP2ClientTransport.Posix>

  /// Check with `bytes` as the request message, exactly as given.
  func check(bytes: [UInt8]) async throws -> Envoy_Service_Auth_V3_CheckResponse {
    try await raw.unary(
      request: ClientRequest(message: bytes),
      descriptor: Envoy_Service_Auth_V3_Authorization.Method.Check.descriptor,
      serializer: RawBytesSerializer(),
      deserializer: ProtobufDeserializer<Envoy_Service_Auth_V3_CheckResponse>(),
      options: .defaults
    ) { try $0.message }
  }
}

struct RawBytesSerializer: MessageSerializer {
  func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
}
