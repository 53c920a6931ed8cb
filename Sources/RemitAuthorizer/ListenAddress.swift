import GRPCNIOTransportCore
import RemitEngine

/// A `HOST:PORT` listen address, with the rule that plaintext serves only loopback.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
  public var host: String
  public var port: Int

  public init(host: String, port: Int) {
    self.host = host
    self.port = port
  }

  /// Parses `127.0.0.1:9191`, `[::1]:9191` or `localhost:9191`.
  public init(parsing text: String) throws(ConfigurationError) {
    let host: Substring
    let port: Substring
    if text.hasPrefix("[") {
      guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
        throw ConfigurationError(code: "listen_address_invalid", message: "\(text) is not [IPv6]:PORT")
      }
      host = text[text.index(after: text.startIndex)..<close]
      port = text[text.index(close, offsetBy: 2)...]
    } else {
      guard let colon = text.lastIndex(of: ":"), text.firstIndex(of: ":") == colon else {
        throw ConfigurationError(code: "listen_address_invalid", message: "\(text) is not HOST:PORT")
      }
      host = text[..<colon]
      port = text[text.index(after: colon)...]
    }
    guard !host.isEmpty, let number = Int(port), (0...65535).contains(number) else {
      throw ConfigurationError(
        code: "listen_address_invalid", message: "\(text) is not HOST:PORT with a port from 0 to 65535")
    }
    self.host = String(host)
    self.port = number
  }

  /// 127.0.0.0/8, ::1 and localhost.
  public var isLoopback: Bool {
    if host == "localhost" || host == "::1" { return true }
    if let address = IPAddress(host), address.isIPv4 { return address.bytes[0] == 127 }
    return false
  }

  public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

  /// The gRPC transport's address; `localhost` binds the IPv4 loopback.
  var socketAddress: GRPCNIOTransportCore.SocketAddress {
    if host == "localhost" { return .ipv4(host: "127.0.0.1", port: port) }
    return host.contains(":") ? .ipv6(host: host, port: port) : .ipv4(host: host, port: port)
  }
}

/// A configuration the authorizer refuses to start with, and why.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
  /// Stable code, such as `plaintext_not_loopback`.
  public var code: String
  public var message: String

  public init(code: String, message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { "\(code): \(message)" }
}
