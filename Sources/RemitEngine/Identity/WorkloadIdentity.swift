/// A Kubernetes workload's mesh identity: `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`.
public struct WorkloadIdentity: Sendable, Hashable, CustomStringConvertible {
  public let trustDomain: String
  public let namespace: String
  public let serviceAccount: String
  /// `namespace/serviceAccount`, the form policies use for destinations. Stored: every decision
  /// looks it up several times.
  public let workload: String

  public init(trustDomain: String, namespace: String, serviceAccount: String) {
    self.trustDomain = trustDomain
    self.namespace = namespace
    self.serviceAccount = serviceAccount
    workload = "\(namespace)/\(serviceAccount)"
  }

  public var spiffeID: String { "spiffe://\(trustDomain)/ns/\(namespace)/sa/\(serviceAccount)" }

  public var description: String { spiffeID }

  public static let maximumLength = 2048

  /// Why a string is not a workload identity.
  public enum ParseFailure: String, Sendable, Error {
    case tooLong = "longer than 2048 bytes"
    case notSPIFFE = "scheme is not spiffe://"
    case badTrustDomain = "trust domain must be non-empty lowercase [a-z0-9._-] with no port or userinfo"
    case badPath =
      "path segments must be non-empty [A-Za-z0-9._-], not '.' or '..', with no query, fragment or percent-encoding"
    case notWorkload = "path is not /ns/<namespace>/sa/<service-account>"
    case badNamespace = "namespace is not a DNS-1123 label"
    case badServiceAccount = "service account is not a DNS-1123 subdomain"
  }

  /// Parses strictly by the SPIFFE ID rules, then requires the Kubernetes workload path.
  public static func parse(_ text: some StringProtocol) -> Result<WorkloadIdentity, ParseFailure> {
    var string = String(text)
    return string.withUTF8(parse(bytes:))
  }

  static let scheme = Array("spiffe://".utf8)

  /// On the UTF-8 bytes, allocating only the three strings of a valid identity: every decision
  /// parses the source and the destination.
  static func parse(bytes: UnsafeBufferPointer<UInt8>) -> Result<WorkloadIdentity, ParseFailure> {
    guard bytes.count <= maximumLength else { return .failure(.tooLong) }
    let schemeCount = scheme.count
    guard bytes.count > schemeCount, zip(bytes, scheme).allSatisfy({ $0 == $1 }) else {
      return .failure(.notSPIFFE)
    }
    var slash = schemeCount
    while slash < bytes.count, bytes[slash] != UInt8(ascii: "/") { slash += 1 }
    let trustDomain = schemeCount..<slash
    guard !trustDomain.isEmpty, trustDomain.count <= 255, trustDomain.allSatisfy({ isTrustDomainByte(bytes[$0]) })
    else { return .failure(.badTrustDomain) }
    // At most four path segments, each a valid SPIFFE path segment.
    var segments: (Range<Int>, Range<Int>, Range<Int>, Range<Int>) = (0..<0, 0..<0, 0..<0, 0..<0)
    var count = 0
    var index = slash
    while index < bytes.count {
      let start = index + 1
      var end = start
      while end < bytes.count, bytes[end] != UInt8(ascii: "/") { end += 1 }
      let segment = start..<end
      guard !segment.isEmpty, segment.allSatisfy({ isPathByte(bytes[$0]) }),
        !(segment.count <= 2 && segment.allSatisfy { bytes[$0] == UInt8(ascii: ".") })
      else { return .failure(.badPath) }
      switch count {
      case 0: segments.0 = segment
      case 1: segments.1 = segment
      case 2: segments.2 = segment
      case 3: segments.3 = segment
      default: return .failure(.notWorkload)
      }
      count += 1
      index = end
    }
    func equals(_ range: Range<Int>, _ text: StaticString) -> Bool {
      range.count == text.utf8CodeUnitCount
        && (0..<range.count).allSatisfy { bytes[range.lowerBound + $0] == text.utf8Start[$0] }
    }
    guard count == 4, equals(segments.0, "ns"), equals(segments.2, "sa") else { return .failure(.notWorkload) }
    let namespace = UnsafeBufferPointer(rebasing: bytes[segments.1])
    let serviceAccount = UnsafeBufferPointer(rebasing: bytes[segments.3])
    guard DNSName.isLabel(bytes: namespace) else { return .failure(.badNamespace) }
    guard DNSName.isSubdomain(bytes: serviceAccount) else { return .failure(.badServiceAccount) }
    return .success(
      WorkloadIdentity(
        trustDomain: String(decoding: UnsafeBufferPointer(rebasing: bytes[trustDomain]), as: UTF8.self),
        namespace: String(decoding: namespace, as: UTF8.self),
        serviceAccount: String(decoding: serviceAccount, as: UTF8.self)
      )
    )
  }

  /// Whether a string may be a trust domain in `settings.trustDomains`.
  public static func isValidTrustDomain(_ value: String) -> Bool {
    let bytes = Array(value.utf8)
    return !bytes.isEmpty && bytes.count <= 255 && bytes.allSatisfy(isTrustDomainByte)
  }

  @inline(__always)
  private static func isTrustDomainByte(_ byte: UInt8) -> Bool {
    DNSName.isLowerAlnum(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
  }

  @inline(__always)
  private static func isPathByte(_ byte: UInt8) -> Bool {
    DNSName.isLowerAlnum(byte) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
      || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
  }

}
