/// A Kubernetes workload's mesh identity: `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`.
public struct WorkloadIdentity: Sendable, Hashable, CustomStringConvertible {
  public var trustDomain: String
  public var namespace: String
  public var serviceAccount: String

  public init(trustDomain: String, namespace: String, serviceAccount: String) {
    self.trustDomain = trustDomain
    self.namespace = namespace
    self.serviceAccount = serviceAccount
  }

  /// `namespace/serviceAccount`, the form policies use for destinations.
  public var workload: String { "\(namespace)/\(serviceAccount)" }

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
    let bytes = Array(text.utf8)
    guard bytes.count <= maximumLength else { return .failure(.tooLong) }
    let scheme = Array("spiffe://".utf8)
    guard bytes.count > scheme.count, bytes[..<scheme.count].elementsEqual(scheme) else {
      return .failure(.notSPIFFE)
    }
    let rest = bytes[scheme.count...]
    let slash = rest.firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex
    let trustDomain = rest[rest.startIndex..<slash]
    guard !trustDomain.isEmpty, trustDomain.count <= 255, trustDomain.allSatisfy(isTrustDomainByte) else {
      return .failure(.badTrustDomain)
    }
    // Collect the path segments; each must be a valid SPIFFE path segment.
    var segments: [ArraySlice<UInt8>] = []
    var index = slash
    while index < rest.endIndex {
      let start = rest.index(after: index)
      let end = rest[start...].firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex
      let segment = rest[start..<end]
      guard !segment.isEmpty, segment.allSatisfy(isPathByte), !isDotSegment(segment) else {
        return .failure(.badPath)
      }
      segments.append(segment)
      guard segments.count <= 4 else { return .failure(.notWorkload) }
      index = end
    }
    guard segments.count == 4,
      segments[0].elementsEqual("ns".utf8),
      segments[2].elementsEqual("sa".utf8)
    else { return .failure(.notWorkload) }
    let namespace = String(decoding: segments[1], as: UTF8.self)
    let serviceAccount = String(decoding: segments[3], as: UTF8.self)
    guard DNSName.isLabel(namespace) else { return .failure(.badNamespace) }
    guard DNSName.isSubdomain(serviceAccount) else { return .failure(.badServiceAccount) }
    return .success(
      WorkloadIdentity(
        trustDomain: String(decoding: trustDomain, as: UTF8.self),
        namespace: namespace,
        serviceAccount: serviceAccount
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

  private static func isDotSegment(_ segment: ArraySlice<UInt8>) -> Bool {
    segment.allSatisfy { $0 == UInt8(ascii: ".") } && segment.count <= 2
  }
}
