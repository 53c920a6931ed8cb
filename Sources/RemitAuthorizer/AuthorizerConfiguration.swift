/// Where the authorizer's policy comes from.
public enum PolicySource: Sendable, Equatable {
  /// A policy file (YAML or JSON), reloaded when it changes.
  case file(String)
  /// The control plane's snapshot for the API key's tenant.
  case controlPlane(ControlPlaneConnection)
}

/// The gRPC listener's TLS (SPEC section 11): the server certificate and key, reloaded when the
/// files change, and client certificates verified against the mesh CA.
public struct TLSFiles: Sendable, Equatable {
  /// PEM certificate chain, leaf first.
  public var certificate: String
  /// PEM private key of the leaf.
  public var privateKey: String
  /// PEM bundle of the CAs client certificates must chain to (the mesh root).
  public var clientCA: String?
  /// On by default: Envoy presents its mesh certificate; anyone else is refused in the handshake.
  public var requireClientCertificate: Bool
  /// How often the certificate, key and CA files are checked for a rotation.
  public var reloadInterval: Duration
  /// SPIFFE IDs or DNS names a client certificate must carry one of (`*` at the end matches a
  /// prefix); empty allows any certificate from the client CA.
  public var allowedClientNames: [String]

  public init(
    certificate: String, privateKey: String, clientCA: String?, requireClientCertificate: Bool = true,
    reloadInterval: Duration = .seconds(5), allowedClientNames: [String] = []
  ) {
    self.allowedClientNames = allowedClientNames
    self.certificate = certificate
    self.privateKey = privateKey
    self.clientCA = clientCA
    self.requireClientCertificate = requireClientCertificate
    self.reloadInterval = reloadInterval
  }
}

/// Everything `remit serve` needs, with the defaults of SPEC section 12.
public struct AuthorizerConfiguration: Sendable {
  public var policySource: PolicySource
  /// TLS for the gRPC listener; nil is plaintext, allowed on loopback only.
  public var tls: TLSFiles?
  /// Writable directory for the per-pod transport key (and, following a control plane, the
  /// snapshot cache and audit spool). Nil: no transport key, so credential brokering is off.
  public var stateDirectory: String?
  /// gRPC listener for ext_authz and health.
  public var listen: ListenAddress
  /// HTTP listener for `/healthz` and `/readyz`; nil to disable.
  public var adminListen: ListenAddress?
  /// How often the policy file is checked for changes.
  public var policyPollInterval: Duration
  /// The name this authorizer reports in logs, and the `iss` of the credentials it mints.
  public var instanceID: String
  /// Static secrets on a policy file, by name (`--secret NAME=file:PATH|env:VARIABLE`). With a
  /// control plane, secrets come sealed from it instead.
  public var staticSecrets: [String: SecretSource] = [:]
  /// Keep resident memory down (`StartupMemory`): two malloc arenas, and once serving, the heap
  /// the policy compile freed and the code pages only startup touched handed back (about 30 MiB
  /// less resident with 10,000 agents). Code pages come back from the page cache if they run again.
  public var compactMemory = true
  /// How long the gRPC listener keeps serving after SIGTERM, with health already NOT_SERVING and
  /// `/readyz` down, before it stops taking calls. In a mesh, Envoys learn that an endpoint went
  /// away a moment after the pod is told to stop; without the delay, checks sent in that moment are
  /// refused and Envoy fails them closed. Zero stops at once (local runs); the chart sets 5 s.
  public var drainDelay: Duration = .zero

  public init(
    policyFile: String,
    listen: ListenAddress = ListenAddress(host: "127.0.0.1", port: 9191),
    adminListen: ListenAddress? = ListenAddress(host: "127.0.0.1", port: 9901),
    policyPollInterval: Duration = .milliseconds(500),
    instanceID: String = "remit-authorizer",
    tls: TLSFiles? = nil,
    stateDirectory: String? = nil
  ) {
    self.init(
      policySource: .file(policyFile), listen: listen, adminListen: adminListen,
      policyPollInterval: policyPollInterval, instanceID: instanceID, tls: tls, stateDirectory: stateDirectory)
  }

  public init(
    policySource: PolicySource,
    listen: ListenAddress = ListenAddress(host: "127.0.0.1", port: 9191),
    adminListen: ListenAddress? = ListenAddress(host: "127.0.0.1", port: 9901),
    policyPollInterval: Duration = .milliseconds(500),
    instanceID: String = "remit-authorizer",
    tls: TLSFiles? = nil,
    stateDirectory: String? = nil
  ) {
    self.stateDirectory = stateDirectory
    if stateDirectory == nil, case .controlPlane(let connection) = policySource {
      self.stateDirectory = connection.stateDirectory
    }
    self.policySource = policySource
    self.listen = listen
    self.adminListen = adminListen
    self.policyPollInterval = policyPollInterval
    self.instanceID = instanceID
    self.tls = tls
  }

  /// Refuses what must never run: plaintext gRPC on anything but loopback, TLS that would not
  /// verify its clients.
  public func validate() throws(ConfigurationError) {
    if case .controlPlane(let connection) = policySource { try connection.validate() }
    if let tls {
      if tls.requireClientCertificate, tls.clientCA == nil {
        throw ConfigurationError(
          code: "tls_client_ca_missing",
          message: """
            --tls-client-ca FILE is required to verify Envoy's client certificate (the mesh root CA); \
            only if something else authenticates callers, set --tls-require-client-cert=false
            """)
      }
    } else if !listen.isLoopback {
      throw ConfigurationError(
        code: "plaintext_not_loopback",
        message: """
          refusing to serve plaintext gRPC on \(listen): plaintext is allowed on a loopback address only \
          (127.0.0.1, ::1 or localhost). Listen on loopback, or give --tls-cert, --tls-key and \
          --tls-client-ca.
          """
      )
    }
    if case .controlPlane = policySource, !staticSecrets.isEmpty {
      throw ConfigurationError(
        code: "secret_source_conflict",
        message:
          "--secret reads secrets on a policy file only; with --control-plane, write them to the control plane (PUT /v1/secrets/NAME) and they arrive sealed to this pod"
      )
    }
    if let adminListen, adminListen.port == listen.port, adminListen.host == listen.host, listen.port != 0 {
      throw ConfigurationError(code: "listen_address_conflict", message: "admin and gRPC listeners share \(listen)")
    }
  }
}
