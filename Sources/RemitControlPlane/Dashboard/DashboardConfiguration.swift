/// How the dashboard at `/ui` keeps its sessions and cookies.
public struct DashboardConfiguration: Sendable, Equatable {
  /// A session unused for this long ends (seconds).
  public var idleTimeout: Int64
  /// A session ends this long after sign-in, however active (seconds).
  public var absoluteTimeout: Int64
  /// At most this many live sessions per tenant; signing in beyond it ends the least recently used.
  public var maximumSessionsPerTenant: Int
  /// Mark cookies `Secure` on every response. They are also marked `Secure` on a request that
  /// arrived over TLS at a proxy (`X-Forwarded-Proto: https`). The control plane itself serves
  /// plain HTTP, so without either the browser would refuse a `Secure` cookie over http://.
  public var secureCookies: Bool
  /// Failed sign-ins one client address may make in `signInWindow` seconds; beyond that its
  /// sign-ins are refused with 429 until the window ends. Behind a proxy every client shares the
  /// proxy's address: limit per client at the proxy as well.
  public var signInFailureLimit: Int
  public var signInWindow: Int64

  public init(
    idleTimeout: Int64 = 30 * 60,
    absoluteTimeout: Int64 = 8 * 60 * 60,
    maximumSessionsPerTenant: Int = 1000,
    secureCookies: Bool = false,
    signInFailureLimit: Int = 10,
    signInWindow: Int64 = 5 * 60
  ) {
    self.idleTimeout = idleTimeout
    self.absoluteTimeout = absoluteTimeout
    self.maximumSessionsPerTenant = maximumSessionsPerTenant
    self.secureCookies = secureCookies
    self.signInFailureLimit = signInFailureLimit
    self.signInWindow = signInWindow
  }
}
