import Hummingbird
import NIOCore

/// The request context of every control-plane route: Hummingbird's basic context plus the peer's
/// address, which the dashboard's sign-in throttle counts failures by.
public struct ControlPlaneRequestContext: RequestContext, RemoteAddressRequestContext {
  public var coreContext: CoreRequestContextStorage
  /// The TCP peer; nil for in-process test clients. Behind a proxy it is the proxy.
  public let remoteAddress: SocketAddress?

  public init(source: ApplicationRequestContextSource) {
    coreContext = .init(source: source)
    remoteAddress = source.channel.remoteAddress
  }
}
