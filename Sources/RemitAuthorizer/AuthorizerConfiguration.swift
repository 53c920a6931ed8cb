/// Where the authorizer's policy comes from.
public enum PolicySource: Sendable, Equatable {
  /// A policy file (YAML or JSON), reloaded when it changes.
  case file(String)
  /// The control plane's snapshot for the API key's tenant.
  case controlPlane(ControlPlaneConnection)
}

/// Everything `remit serve` needs, with the defaults of SPEC section 12.
public struct AuthorizerConfiguration: Sendable {
  public var policySource: PolicySource
  /// gRPC listener for ext_authz and health.
  public var listen: ListenAddress
  /// HTTP listener for `/healthz` and `/readyz`; nil to disable.
  public var adminListen: ListenAddress?
  /// How often the policy file is checked for changes.
  public var policyPollInterval: Duration
  /// The name this authorizer reports in logs.
  public var instanceID: String

  public init(
    policyFile: String,
    listen: ListenAddress = ListenAddress(host: "127.0.0.1", port: 9191),
    adminListen: ListenAddress? = ListenAddress(host: "127.0.0.1", port: 9901),
    policyPollInterval: Duration = .milliseconds(500),
    instanceID: String = "remit-authorizer"
  ) {
    self.init(
      policySource: .file(policyFile), listen: listen, adminListen: adminListen,
      policyPollInterval: policyPollInterval, instanceID: instanceID)
  }

  public init(
    policySource: PolicySource,
    listen: ListenAddress = ListenAddress(host: "127.0.0.1", port: 9191),
    adminListen: ListenAddress? = ListenAddress(host: "127.0.0.1", port: 9901),
    policyPollInterval: Duration = .milliseconds(500),
    instanceID: String = "remit-authorizer"
  ) {
    self.policySource = policySource
    self.listen = listen
    self.adminListen = adminListen
    self.policyPollInterval = policyPollInterval
    self.instanceID = instanceID
  }

  /// Refuses what must never run: plaintext gRPC on anything but loopback.
  public func validate() throws(ConfigurationError) {
    if case .controlPlane(let connection) = policySource { try connection.validate() }
    guard listen.isLoopback else {
      throw ConfigurationError(
        code: "plaintext_not_loopback",
        message: """
          refusing to serve plaintext gRPC on \(listen): plaintext is allowed on a loopback address only \
          (127.0.0.1, ::1 or localhost). Listen on loopback, or configure TLS when it is available.
          """
      )
    }
    if let adminListen, adminListen.port == listen.port, adminListen.host == listen.host, listen.port != 0 {
      throw ConfigurationError(code: "listen_address_conflict", message: "admin and gRPC listeners share \(listen)")
    }
  }
}
