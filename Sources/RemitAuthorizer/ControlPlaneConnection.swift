import RemitEngine

/// How `remit serve --control-plane URL` reaches the control plane and where it keeps what must
/// survive a restart (the last good snapshot and the audit spool).
public struct ControlPlaneConnection: Sendable, Equatable, CustomStringConvertible {
  /// The control plane's base URL, `http://host:port` or `https://host:port`, without `/v1`.
  public var baseURL: String
  /// An API key with the `authorizer` role. Never printed.
  public var apiKey: String
  /// This authorizer's name in the control plane's Authorizers list (the pod name in Kubernetes).
  public var instanceID: String
  /// Writable directory for `snapshot.json` and `audit-spool/`.
  public var stateDirectory: String
  /// How long one long-poll may wait for a change (the control plane caps it at 60).
  public var longPollSeconds: Int
  /// The longest any one request may take beyond its long-poll wait.
  public var requestTimeout: Duration
  /// How often the authorizer reports itself when nothing changes.
  public var heartbeatInterval: Duration
  /// The longest pause between retries while the control plane cannot be reached.
  public var maximumBackoff: Duration
  /// The longest a delegation hop waits for the ledger; past it the hop is denied (fail closed).
  public var ledgerTimeout: Duration
  public var audit: AuditShippingConfiguration

  public init(
    baseURL: String,
    apiKey: String,
    instanceID: String,
    stateDirectory: String,
    longPollSeconds: Int = 30,
    requestTimeout: Duration = .seconds(5),
    heartbeatInterval: Duration = .seconds(15),
    maximumBackoff: Duration = .seconds(10),
    ledgerTimeout: Duration = .milliseconds(500),
    audit: AuditShippingConfiguration = AuditShippingConfiguration()
  ) {
    self.ledgerTimeout = ledgerTimeout
    self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
    self.apiKey = apiKey
    self.instanceID = instanceID
    self.stateDirectory = stateDirectory
    self.longPollSeconds = longPollSeconds
    self.requestTimeout = requestTimeout
    self.heartbeatInterval = heartbeatInterval
    self.maximumBackoff = maximumBackoff
    self.audit = audit
  }

  public var description: String { "\(baseURL) as \(instanceID)" }

  /// Refuses what cannot work, before anything starts.
  public func validate() throws(ConfigurationError) {
    guard baseURL.hasPrefix("http://") || baseURL.hasPrefix("https://"), baseURL.utf8.count > "https://".utf8.count
    else {
      throw ConfigurationError(
        code: "control_plane_url_invalid",
        message: "--control-plane must be an http:// or https:// URL such as http://127.0.0.1:8080")
    }
    guard !apiKey.isEmpty else {
      throw ConfigurationError(
        code: "api_key_missing",
        message: "--control-plane needs an authorizer API key: --api-key-file FILE or REMIT_API_KEY")
    }
    guard PolicyRules.nameTokenProblem(instanceID) == nil else {
      throw ConfigurationError(
        code: "instance_id_invalid", message: "--instance-id must be 1-128 characters of A-Z a-z 0-9 . _ -")
    }
    guard (0...60).contains(longPollSeconds) else {
      throw ConfigurationError(code: "long_poll_invalid", message: "the long-poll wait must be 0 to 60 seconds")
    }
    guard !stateDirectory.isEmpty else {
      throw ConfigurationError(code: "state_dir_missing", message: "--state-dir must name a writable directory")
    }
  }
}

/// Bounds on the decision events sent to the control plane: memory first, then a spool on disk.
public struct AuditShippingConfiguration: Sendable, Equatable {
  /// Events held in memory before they are sent or spooled; beyond it new events are dropped.
  public var memoryCapacity: Int
  /// Events per `POST /v1/audit/events`.
  public var batchSize: Int
  /// The longest an event waits in memory before a send is attempted.
  public var flushInterval: Duration
  /// The spool's size on disk; a batch that would exceed it is dropped (and counted).
  public var spoolBytes: Int

  public init(
    memoryCapacity: Int = 10_000,
    batchSize: Int = 500,
    flushInterval: Duration = .seconds(1),
    spoolBytes: Int = 64 << 20
  ) {
    self.memoryCapacity = max(1, memoryCapacity)
    self.batchSize = min(max(1, batchSize), 1000)
    self.flushInterval = flushInterval
    self.spoolBytes = max(0, spoolBytes)
  }
}
