import RemitEngine

/// A `source.principal`: the identity parser must agree with a plain reading of the SPIFFE ID
/// rules and the Kubernetes workload path, and an identity it accepts must print back as the input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWorkloadIdentity(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
  let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
  let parsed = try? WorkloadIdentity.parse(text).get()
  let expected = ReferenceIdentity(text)
  switch (parsed, expected) {
  case (nil, nil):
    break
  case (let identity?, let reference?):
    guard identity.trustDomain == reference.trustDomain, identity.namespace == reference.namespace,
      identity.serviceAccount == reference.serviceAccount, identity.spiffeID == text
    else { fatalError("the parser and the reference read an identity differently") }
  case (_?, nil):
    fatalError("the parser accepted an identity the reference rejects")
  case (nil, _?):
    fatalError("the parser rejected an identity the reference accepts")
  }
  return 0
}

/// The rules written out with string operations, as the SPIFFE ID specification and Kubernetes
/// state them, sharing no code with the parser.
struct ReferenceIdentity {
  var trustDomain: String
  var namespace: String
  var serviceAccount: String

  init?(_ text: String) {
    guard text.utf8.count <= 2048, text.hasPrefix("spiffe://") else { return nil }
    let parts = text.dropFirst("spiffe://".count).split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 5, let domain = parts.first else { return nil }
    let domainCharacters = Set("abcdefghijklmnopqrstuvwxyz0123456789.-_")
    guard !domain.isEmpty, domain.utf8.count <= 255, domain.allSatisfy(domainCharacters.contains) else { return nil }
    let segmentCharacters = domainCharacters.union("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    for segment in parts.dropFirst() {
      guard !segment.isEmpty, segment != ".", segment != "..", segment.allSatisfy(segmentCharacters.contains)
      else { return nil }
    }
    guard parts[1] == "ns", parts[3] == "sa", Self.isLabel(parts[2], maximum: 63), parts[4].utf8.count <= 253,
      parts[4].split(separator: ".", omittingEmptySubsequences: false).allSatisfy({ Self.isLabel($0, maximum: 253) })
    else { return nil }
    trustDomain = String(domain)
    namespace = String(parts[2])
    serviceAccount = String(parts[4])
  }

  /// DNS-1123: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`.
  static func isLabel(_ label: Substring, maximum: Int) -> Bool {
    let alphanumerics = Set("abcdefghijklmnopqrstuvwxyz0123456789")
    guard let first = label.first, let last = label.last, label.count <= maximum else { return false }
    return alphanumerics.contains(first) && alphanumerics.contains(last)
      && label.allSatisfy { alphanumerics.contains($0) || $0 == "-" }
  }
}
