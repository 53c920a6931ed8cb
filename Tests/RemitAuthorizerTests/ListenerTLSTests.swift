import Crypto
import EnvoyAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import SwiftASN1
import Testing
import X509

@testable import RemitAuthorizer

/// A throwaway PKI written as PEM files: a CA and certificates it issues.
struct TestPKI {
  struct Issued {
    let certificate: Certificate
    let key: P256.Signing.PrivateKey
  }

  let directory: String
  let ca: Issued

  init(directory: String, name: String = "Remit test mesh CA") throws {
    self.directory = directory
    let key = P256.Signing.PrivateKey()
    let subject = try DistinguishedName { CommonName(name) }
    let now = Date()
    let certificate = try Certificate(
      version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
      notValidBefore: now - 300, notValidAfter: now + 3600, issuer: subject, subject: subject,
      signatureAlgorithm: .ecdsaWithSHA256,
      extensions: try Certificate.Extensions {
        Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
        Critical(KeyUsage(keyCertSign: true, cRLSign: true))
      },
      issuerPrivateKey: .init(key))
    ca = Issued(certificate: certificate, key: key)
  }

  /// A leaf for `127.0.0.1`/`localhost` and a SPIFFE ID, usable as server and client, shaped as
  /// Istio issues them: an empty subject, so the SAN extension is critical.
  func issue(spiffeID: String, usages: [ExtendedKeyUsage.Usage] = [.serverAuth, .clientAuth]) throws -> Issued {
    let key = P256.Signing.PrivateKey()
    let now = Date()
    let certificate = try Certificate(
      version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
      notValidBefore: now - 300, notValidAfter: now + 3600, issuer: ca.certificate.subject,
      subject: DistinguishedName(), signatureAlgorithm: .ecdsaWithSHA256,
      extensions: try Certificate.Extensions {
        Critical(BasicConstraints.notCertificateAuthority)
        Critical(KeyUsage(digitalSignature: true))
        try ExtendedKeyUsage(usages)
        Critical(
          SubjectAlternativeNames([
            .dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
            .uniformResourceIdentifier(spiffeID),
          ]))
      },
      issuerPrivateKey: .init(ca.key))
    return Issued(certificate: certificate, key: key)
  }

  /// Writes `issued` as `name.pem` and `name-key.pem` (atomically, as a Secret update does).
  func write(_ issued: Issued, as name: String) throws -> (certificate: String, key: String) {
    let certificate = directory + "/\(name).pem"
    let key = directory + "/\(name)-key.pem"
    try issued.certificate.serializeAsPEM().pemString.write(toFile: certificate, atomically: true, encoding: .utf8)
    try issued.key.pemRepresentation.write(toFile: key, atomically: true, encoding: .utf8)
    return (certificate, key)
  }

  func writeCA(as name: String = "ca") throws -> String {
    let path = directory + "/\(name).pem"
    try ca.certificate.serializeAsPEM().pemString.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }
}

@Suite(.serialized) struct ListenerTLSTests {
  static let logger: Logger = {
    var logger = Logger(label: "remit.tls-tests")
    logger.logLevel = .critical
    return logger
  }()

  static let policy = """
    apiVersion: remit/v1
    kind: Policy
    metadata: {name: tls-test, version: "1"}
    """

  func temporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("remit-tls-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  /// Runs an authorizer with TLS on 127.0.0.1:0 and gives `body` its port.
  func withTLSAuthorizer(
    directory: String, tls: TLSFiles, _ body: @Sendable (Int) async throws -> Void
  ) async throws {
    let policyFile = directory + "/policy.yaml"
    try Self.policy.write(toFile: policyFile, atomically: true, encoding: .utf8)
    let authorizer = try Authorizer(
      configuration: AuthorizerConfiguration(
        policyFile: policyFile, listen: ListenAddress(host: "127.0.0.1", port: 0), adminListen: nil, tls: tls),
      logger: Self.logger)
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask {
        defer { continuation.finish() }
        try await authorizer.run(onListening: { continuation.yield($0) })
      }
      var iterator = ports.makeAsyncIterator()
      let port = try #require(await iterator.next())
      try await body(port)
      group.cancelAll()
    }
  }

  /// One health check over a new connection; the status, or the error the handshake ended in.
  func healthCheck(
    port: Int, caPath: String, client: (certificate: String, key: String)?
  ) async throws -> Grpc_Health_V1_HealthCheckResponse.ServingStatus {
    let security: HTTP2ClientTransport.Posix.TransportSecurity
    if let client {
      security = .mTLS(
        certificateChain: [.file(path: client.certificate, format: .pem)],
        privateKey: .file(path: client.key, format: .pem)
      ) { config in
        config.trustRoots = .certificates([.file(path: caPath, format: .pem)])
        config.serverCertificateVerification = .noHostnameVerification
      }
    } else {
      security = .tls { config in
        config.trustRoots = .certificates([.file(path: caPath, format: .pem)])
        config.serverCertificateVerification = .noHostnameVerification
      }
    }
    return try await withGRPCClient(
      transport: try .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: security)
    ) { client in
      var options = CallOptions.defaults
      options.timeout = .seconds(3)
      return try await Grpc_Health_V1_Health.Client(wrapping: client).check(.init(), options: options).status
    }
  }

  @Test func clientsWithAMeshCertificateAreServedAndOthersRefused() async throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let mesh = try TestPKI(directory: directory)
    let caPath = try mesh.writeCA()
    let server = try mesh.write(
      try mesh.issue(spiffeID: "spiffe://cluster.local/ns/remit/sa/remit-authz"), as: "server")
    let envoy = try mesh.write(
      try mesh.issue(spiffeID: "spiffe://cluster.local/ns/tools/sa/inventory"), as: "envoy")
    let stranger = try TestPKI(directory: directory + "/", name: "Not the mesh")
    let strangerClient = try stranger.write(
      try stranger.issue(spiffeID: "spiffe://cluster.local/ns/tools/sa/inventory"), as: "stranger")

    try await withTLSAuthorizer(
      directory: directory, tls: TLSFiles(certificate: server.certificate, privateKey: server.key, clientCA: caPath)
    ) { port in
      let status1 = try await healthCheck(port: port, caPath: caPath, client: envoy)
      #expect(status1 == .serving)
      await #expect(throws: (any Error).self) { try await healthCheck(port: port, caPath: caPath, client: nil) }
      await #expect(throws: (any Error).self) {
        try await healthCheck(port: port, caPath: caPath, client: strangerClient)
      }
    }
  }

  @Test func aRotatedCertificateServesNewConnectionsAndABadFileIsRefused() async throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let mesh = try TestPKI(directory: directory)
    let caPath = try mesh.writeCA()
    let server = try mesh.write(
      try mesh.issue(spiffeID: "spiffe://cluster.local/ns/remit/sa/remit-authz"), as: "server")
    let envoy = try mesh.write(try mesh.issue(spiffeID: "spiffe://cluster.local/ns/tools/sa/inventory"), as: "envoy")
    // The server's next certificate comes from a new CA, so a client that trusts only that CA can
    // tell the rotation happened.
    let nextDirectory = directory + "/next"
    try FileManager.default.createDirectory(atPath: nextDirectory, withIntermediateDirectories: true)
    let next = try TestPKI(directory: nextDirectory, name: "Rotated server CA")
    let nextCA = try next.writeCA()
    let nextServer = try next.issue(spiffeID: "spiffe://cluster.local/ns/remit/sa/remit-authz")

    let tls = TLSFiles(
      certificate: server.certificate, privateKey: server.key, clientCA: caPath, reloadInterval: .milliseconds(100))
    try await withTLSAuthorizer(directory: directory, tls: tls) { port in
      let status2 = try await healthCheck(port: port, caPath: caPath, client: envoy)
      #expect(status2 == .serving)
      await #expect(throws: (any Error).self) { try await healthCheck(port: port, caPath: nextCA, client: envoy) }

      // A broken file: refused, the old pair keeps serving.
      try "not a certificate".write(toFile: server.certificate, atomically: true, encoding: .utf8)
      try await Task.sleep(for: .milliseconds(400))
      let status3 = try await healthCheck(port: port, caPath: caPath, client: envoy)
      #expect(status3 == .serving)

      // The rotation: new connections get the new certificate.
      try nextServer.certificate.serializeAsPEM().pemString.write(
        toFile: server.certificate, atomically: true, encoding: .utf8)
      try nextServer.key.pemRepresentation.write(toFile: server.key, atomically: true, encoding: .utf8)
      let deadline = ContinuousClock.now + .seconds(5)
      var rotated = false
      while !rotated, ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(100))
        rotated = (try? await healthCheck(port: port, caPath: nextCA, client: envoy)) == .serving
      }
      #expect(rotated)
    }
  }

  @Test func aRotatedClientCABundleIsFollowedWithoutARestart() async throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let mesh = try TestPKI(directory: directory)
    let caPath = try mesh.writeCA()
    let server = try mesh.write(
      try mesh.issue(spiffeID: "spiffe://cluster.local/ns/remit/sa/remit-authz"), as: "server")
    let newRootDirectory = directory + "/new-root"
    try FileManager.default.createDirectory(atPath: newRootDirectory, withIntermediateDirectories: true)
    let newRoot = try TestPKI(directory: newRootDirectory, name: "Next mesh root")
    let newClient = try newRoot.write(
      try newRoot.issue(spiffeID: "spiffe://cluster.local/ns/tools/sa/inventory"), as: "envoy")
    let oldClient = try mesh.write(
      try mesh.issue(spiffeID: "spiffe://cluster.local/ns/tools/sa/inventory"), as: "envoy")

    let tls = TLSFiles(
      certificate: server.certificate, privateKey: server.key, clientCA: caPath, reloadInterval: .milliseconds(100))
    try await withTLSAuthorizer(directory: directory, tls: tls) { port in
      await #expect(throws: (any Error).self) { try await healthCheck(port: port, caPath: caPath, client: newClient) }
      // A broken bundle is ignored.
      try "garbage".write(toFile: caPath + ".tmp", atomically: true, encoding: .utf8)
      _ = rename(caPath + ".tmp", caPath)
      try await Task.sleep(for: .milliseconds(400))
      let stillServed = try await healthCheck(port: port, caPath: mesh.writeCA(as: "ca-copy"), client: oldClient)
      #expect(stillServed == .serving)
      // The root rotation: old and new root side by side; both kinds of client are served.
      let bundle =
        try mesh.ca.certificate.serializeAsPEM().pemString + "\n"
        + newRoot.ca.certificate.serializeAsPEM().pemString + "\n"
      try bundle.write(toFile: caPath, atomically: true, encoding: .utf8)
      let deadline = ContinuousClock.now + .seconds(5)
      var accepted = false
      while !accepted, ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(100))
        accepted =
          (try? await healthCheck(port: port, caPath: directory + "/ca-copy.pem", client: newClient)) == .serving
      }
      #expect(accepted)
      let old = try await healthCheck(port: port, caPath: directory + "/ca-copy.pem", client: oldClient)
      #expect(old == .serving)
    }
  }

  @Test func onlyAllowedClientNamesAreServed() async throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let mesh = try TestPKI(directory: directory)
    let caPath = try mesh.writeCA()
    let server = try mesh.write(
      try mesh.issue(spiffeID: "spiffe://cluster.local/ns/remit/sa/remit-authz"), as: "server")
    let gateway = try mesh.write(
      try mesh.issue(spiffeID: "spiffe://cluster.local/ns/istio-system/sa/istio-egressgateway"), as: "gateway")
    let tool = try mesh.write(try mesh.issue(spiffeID: "spiffe://cluster.local/ns/tools/sa/inventory"), as: "tool")
    let tls = TLSFiles(
      certificate: server.certificate, privateKey: server.key, clientCA: caPath,
      allowedClientNames: ["spiffe://cluster.local/ns/istio-system/*"])
    try await withTLSAuthorizer(directory: directory, tls: tls) { port in
      let allowed = try await healthCheck(port: port, caPath: caPath, client: gateway)
      #expect(allowed == .serving)
      await #expect(throws: (any Error).self) { try await healthCheck(port: port, caPath: caPath, client: tool) }
    }
  }

  @Test func aCertificateNotForClientAuthenticationIsRefused() async throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let mesh = try TestPKI(directory: directory)
    let caPath = try mesh.writeCA()
    let server = try mesh.write(
      try mesh.issue(spiffeID: "spiffe://cluster.local/ns/remit/sa/remit-authz"), as: "server")
    let serverOnly = try mesh.write(
      try mesh.issue(spiffeID: "spiffe://cluster.local/ns/tools/sa/inventory", usages: [.serverAuth]), as: "server-only"
    )
    try await withTLSAuthorizer(
      directory: directory, tls: TLSFiles(certificate: server.certificate, privateKey: server.key, clientCA: caPath)
    ) { port in
      await #expect(throws: (any Error).self) { try await healthCheck(port: port, caPath: caPath, client: serverOnly) }
    }
  }

  @Test func tlsWithoutAClientCAIsRefusedUnlessClientCertificatesAreOff() throws {
    let refused = AuthorizerConfiguration(
      policyFile: "x", listen: ListenAddress(host: "0.0.0.0", port: 9191),
      tls: TLSFiles(certificate: "c", privateKey: "k", clientCA: nil))
    #expect(throws: ConfigurationError.self) { try refused.validate() }
    let allowed = AuthorizerConfiguration(
      policyFile: "x", listen: ListenAddress(host: "0.0.0.0", port: 9191),
      tls: TLSFiles(certificate: "c", privateKey: "k", clientCA: nil, requireClientCertificate: false))
    try allowed.validate()
    let plaintext = AuthorizerConfiguration(policyFile: "x", listen: ListenAddress(host: "0.0.0.0", port: 9191))
    #expect(throws: ConfigurationError.self) { try plaintext.validate() }
  }
}

#if canImport(Glibc)
  import Glibc
#endif
