/// Kubernetes name rules (DNS-1123), used for namespaces and service accounts everywhere a mesh
/// identity is written: policy files, the API and the dashboard give the same messages.
public enum DNSName {
  /// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters. Returns why not, or nil.
  public static func labelProblem(_ value: some StringProtocol) -> String? {
    let bytes = Array(value.utf8)
    if bytes.isEmpty { return "must not be empty" }
    if bytes.count > 63 { return "must be at most 63 characters (DNS-1123 label)" }
    return labelShapeProblem(bytes[...])
  }

  /// DNS-1123 labels joined by dots, at most 253 characters. Returns why not, or nil.
  public static func subdomainProblem(_ value: some StringProtocol) -> String? {
    let bytes = Array(value.utf8)
    if bytes.isEmpty { return "must not be empty" }
    if bytes.count > 253 { return "must be at most 253 characters (DNS-1123 subdomain)" }
    for label in bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
      if label.isEmpty { return "must not have an empty label (no leading, trailing or double dots)" }
      if let problem = labelShapeProblem(label) {
        return problem.replacingFirst("must", with: "each dot-separated part must")
      }
    }
    return nil
  }

  public static func isLabel(_ value: some StringProtocol) -> Bool { labelProblem(value) == nil }

  /// `isLabel` on bytes, without allocating.
  static func isLabel(bytes: UnsafeBufferPointer<UInt8>, maximum: Int = 63) -> Bool {
    guard let first = bytes.first, let last = bytes.last, bytes.count <= maximum, isLowerAlnum(first),
      isLowerAlnum(last)
    else { return false }
    return bytes.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "-") }
  }

  /// `isSubdomain` on bytes, without allocating.
  static func isSubdomain(bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    guard !bytes.isEmpty, bytes.count <= 253 else { return false }
    var start = 0
    while start <= bytes.count {
      var end = start
      while end < bytes.count, bytes[end] != UInt8(ascii: ".") { end += 1 }
      // As Kubernetes' IsDNS1123Subdomain: the 253 total bounds each part, not 63.
      guard isLabel(bytes: UnsafeBufferPointer(rebasing: bytes[start..<end]), maximum: 253) else { return false }
      start = end + 1
    }
    return true
  }
  public static func isSubdomain(_ value: some StringProtocol) -> Bool { subdomainProblem(value) == nil }

  private static func labelShapeProblem(_ label: ArraySlice<UInt8>) -> String? {
    for byte in label where !(isLowerAlnum(byte) || byte == UInt8(ascii: "-")) {
      return "must consist of lower case letters, digits and '-' (DNS-1123)"
    }
    guard let first = label.first, let last = label.last, isLowerAlnum(first), isLowerAlnum(last) else {
      return "must start and end with a lower case letter or digit (DNS-1123)"
    }
    return nil
  }

  @inline(__always)
  static func isLowerAlnum(_ byte: UInt8) -> Bool {
    (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
  }
}

extension String {
  func replacingFirst(_ target: String, with replacement: String) -> String {
    guard let range = range(of: target) else { return self }
    return replacingCharacters(in: range, with: replacement)
  }
}
