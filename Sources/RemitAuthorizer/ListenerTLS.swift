import GRPCNIOTransportHTTP2
import Logging
import NIOCertificateReloading
import ServiceLifecycle

/// The gRPC listener's TLS. The certificate and key come from a `TimedCertificateReloader`: every
/// new handshake uses the pair loaded last, so a rotation (cert-manager rewriting the Secret)
/// applies to new connections while established ones carry on. A new pair that does not load, or
/// whose key does not match its certificate, is logged and the previous pair stays.
enum ListenerTLS {
  static func reloader(_ tls: TLSFiles, logger: Logger) throws(ConfigurationError) -> TimedCertificateReloader {
    var configuration = TimedCertificateReloader.Configuration(
      refreshInterval: tls.reloadInterval,
      certificateSource: .init(location: .file(path: tls.certificate), format: .pem),
      privateKeySource: .init(location: .file(path: tls.privateKey), format: .pem)
    )
    configuration.onCertificateLoadFailed = { failure in
      logger.error(
        "TLS certificate or key rejected; serving with the previous pair",
        metadata: [
          "certificate": "\(tls.certificate)", "private_key": "\(tls.privateKey)", "error": "\(failure.error)",
        ])
    }
    configuration.onCertificateLoaded = { diff in
      // Called for the first load too; only a change is news.
      guard diff.previousCertificateChain != nil else { return }
      logger.notice("TLS certificate reloaded", metadata: ["certificate": "\(tls.certificate)"])
    }
    do {
      return try TimedCertificateReloader.makeReloaderValidatingSources(configuration: configuration)
    } catch {
      throw ConfigurationError(
        code: "tls_files_invalid",
        message: "cannot use --tls-cert \(tls.certificate) with --tls-key \(tls.privateKey): \(error)")
    }
  }

  static func transportSecurity(
    _ tls: TLSFiles, reloader: TimedCertificateReloader, trust: ClientTrust?
  ) throws(ConfigurationError) -> HTTP2ServerTransport.Posix.TransportSecurity {
    do {
      if tls.requireClientCertificate, let clientCA = tls.clientCA, let trust {
        return try .mTLS(certificateReloader: reloader) { config in
          config.trustRoots = .certificates([.file(path: clientCA, format: .pem)])
          config.clientCertificateVerification = .noHostnameVerification
          // Our own chain check replaces the handshake's, so the bundle can be reloaded and
          // client names restricted.
          config.customVerificationCallback = { certificates, promise in
            promise.completeWithTask { await trust.verify(certificates) }
          }
        }
      }
      return try .tls(certificateReloader: reloader)
    } catch {
      throw ConfigurationError(code: "tls_files_invalid", message: "cannot configure TLS: \(error)")
    }
  }
}

extension TimedCertificateReloader: @retroactive Service {}
