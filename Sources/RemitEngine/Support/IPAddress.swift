#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// An IPv4 or IPv6 address literal, stored as its 4 or 16 network-order bytes.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
  public let bytes: [UInt8]
  public let text: String

  /// Parses a literal with `inet_pton` (IPv6 may be written in brackets).
  public init?(_ literal: String) {
    var text = literal
    if text.hasPrefix("[") && text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
    guard !text.isEmpty, text.utf8.count <= 45 else { return nil }
    if text.contains(":") {
      var address = in6_addr()
      guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
      bytes = withUnsafeBytes(of: &address) { Array($0) }
    } else {
      var address = in_addr()
      guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
      bytes = withUnsafeBytes(of: &address) { Array($0) }
    }
    self.text = text.lowercased()
  }

  public var isIPv4: Bool { bytes.count == 4 }

  public var description: String { text }
}
