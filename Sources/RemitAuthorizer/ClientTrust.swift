import Foundation
import Logging
import NIOSSL
import ServiceLifecycle
import SwiftASN1
import Synchronization
import X509

/// Who may call the gRPC listener: client certificates that chain to the CA bundle (the mesh
/// root), optionally only with an allowed SPIFFE ID or DNS name. The bundle is re-read when the
/// file changes, so a mesh root rotation (old and new root side by side, then the old removed)
/// needs no restart; a file that does not parse is logged and the previous bundle stays.
final class ClientTrust: Sendable {
  let path: String
  /// URI or DNS SANs a client certificate must carry one of; a trailing `*` matches a prefix.
  /// Empty: any certificate from the CA.
  let allowedNames: [String]
  let logger: Logger
  private let state: Mutex<(bytes: [UInt8], roots: [Certificate])>

  init(path: String, allowedNames: [String], logger: Logger) throws(ConfigurationError) {
    self.path = path
    self.allowedNames = allowedNames
    self.logger = logger
    let bytes = try Self.read(path)
    do {
      state = Mutex((bytes, try Self.parse(bytes)))
    } catch {
      throw ConfigurationError(code: "tls_client_ca_invalid", message: "\(path): \(error)")
    }
  }

  /// The CA certificates in a PEM bundle; at least one.
  static func parse(_ bytes: [UInt8]) throws -> [Certificate] {
    let documents = try PEMDocument.parseMultiple(pemString: String(decoding: bytes, as: UTF8.self))
    let certificates = try documents.filter { $0.discriminator == "CERTIFICATE" }.map {
      try Certificate(pemDocument: $0)
    }
    guard !certificates.isEmpty else {
      throw ConfigurationError(code: "tls_client_ca_invalid", message: "no CERTIFICATE block")
    }
    return certificates
  }

  static func read(_ path: String) throws(ConfigurationError) -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path), data.count <= 1 << 20 else {
      throw ConfigurationError(code: "tls_client_ca_unreadable", message: "cannot read \(path) (at most 1 MiB)")
    }
    return Array(data)
  }

  /// Re-reads the bundle; swaps it in when it changed and parses.
  func reloadIfChanged() {
    guard let bytes = try? Self.read(path), bytes != state.withLock({ $0.bytes }) else { return }
    do {
      let roots = try Self.parse(bytes)
      state.withLock { $0 = (bytes, roots) }
      logger.notice("TLS client CA bundle reloaded", metadata: ["path": "\(path)", "certificates": "\(roots.count)"])
    } catch {
      logger.error(
        "TLS client CA bundle rejected; keeping the previous one", metadata: ["path": "\(path)", "error": "\(error)"])
    }
  }

  /// The handshake's verdict on a client's chain (leaf first).
  func verify(_ chain: [NIOSSLCertificate]) async -> NIOSSLVerificationResultWithMetadata {
    guard let first = chain.first else { return .failed }
    do {
      let leaf = try Certificate(derEncoded: try first.toDERBytes())
      let intermediates = CertificateStore(
        try chain.dropFirst().map { try Certificate(derEncoded: try $0.toDERBytes()) })
      let roots = state.withLock { $0.roots }
      var verifier = Verifier(rootCertificates: CertificateStore(roots)) {
        RFC5280Policy()
        ClientCertificatePolicy()
      }
      guard case .validCertificate = await verifier.validate(leaf: leaf, intermediates: intermediates) else {
        logger.debug("TLS client certificate does not chain to the client CA")
        return .failed
      }
      guard allowedNames.isEmpty || Self.names(of: leaf).contains(where: allows) else {
        logger.warning("TLS client certificate has no allowed name", metadata: ["names": "\(Self.names(of: leaf))"])
        return .failed
      }
      return .certificateVerified(VerificationMetadata(nil))
    } catch {
      logger.debug("TLS client certificate unreadable", metadata: ["error": "\(error)"])
      return .failed
    }
  }

  func allows(_ name: String) -> Bool {
    allowedNames.contains { pattern in
      pattern.hasSuffix("*") ? name.hasPrefix(pattern.dropLast()) : name == pattern
    }
  }

  static func names(of certificate: Certificate) -> [String] {
    guard let names = try? certificate.extensions.subjectAlternativeNames else { return [] }
    return names.compactMap { name in
      switch name {
      case .uniformResourceIdentifier(let uri): uri
      case .dnsName(let dns): dns
      default: nil
      }
    }
  }
}

/// What a mesh client certificate must be beyond RFC 5280: if it limits its uses, client
/// authentication is one of them. It also declares the subject alternative name understood:
/// workload certificates have an empty subject, so their SAN extension is critical, and the
/// names are checked against the allow-list above.
struct ClientCertificatePolicy: VerifierPolicy {
  let verifyingCriticalExtensions: [ASN1ObjectIdentifier] = [
    .X509ExtensionID.subjectAlternativeName, .X509ExtensionID.extendedKeyUsage,
  ]

  func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) -> PolicyEvaluationResult {
    guard let usage = try? chain.leaf.extensions.extendedKeyUsage else { return .meetsPolicy }
    guard usage.contains(.clientAuth) || usage.contains(.any) else {
      return .failsToMeetPolicy(reason: "the client certificate's extended key usage excludes client authentication")
    }
    return .meetsPolicy
  }
}

/// Re-reads the client CA bundle every interval.
struct ClientTrustReloader: Service {
  let trust: ClientTrust
  let interval: Duration

  func run() async throws {
    while !Task.isCancelledOrShuttingDown {
      try? await Task.sleep(for: interval)
      trust.reloadIfChanged()
    }
  }
}
