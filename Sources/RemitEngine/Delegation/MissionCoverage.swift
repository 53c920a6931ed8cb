/// Conservative scope coverage for `escalation: deny` (SPEC section 6): "is every call mission
/// `inner` allows also allowed by `outer`?" answered yes only when it can be proven from the
/// patterns alone. When coverage of globs cannot be proven, it is not covered.
enum MissionCoverage {
  static func covers(_ outer: PolicyDocument.Mission, _ inner: PolicyDocument.Mission) -> Bool {
    let outerGrants = outer.allow ?? []
    for grant in inner.allow ?? [] where !outerGrants.contains(where: { covers($0, grant) }) {
      return false
    }
    let outerHosts = outer.egress ?? []
    for host in inner.egress ?? [] where !outerHosts.contains(where: { covers(host: $0, host) }) {
      return false
    }
    return true
  }

  static func covers(_ outer: PolicyDocument.Grant, _ inner: PolicyDocument.Grant) -> Bool {
    guard covers(workload: outer.to, inner.to) else { return false }
    let outerUnrestricted = outer.mcp == nil && outer.http == nil && outer.a2a == nil
    if outerUnrestricted { return true }
    let innerUnrestricted = inner.mcp == nil && inner.http == nil && inner.a2a == nil
    if innerUnrestricted { return false }
    if let mcp = inner.mcp {
      guard let outerMCP = outer.mcp,
        covers(globs: outerMCP.tools, mcp.tools), covers(globs: outerMCP.resources, mcp.resources),
        covers(globs: outerMCP.prompts, mcp.prompts), covers(globs: outerMCP.methods, mcp.methods)
      else { return false }
    }
    if let a2a = inner.a2a {
      guard let outerA2A = outer.a2a, covers(globs: outerA2A.methods, a2a.methods) else { return false }
    }
    for route in inner.http ?? [] where !(outer.http ?? []).contains(where: { covers(route: $0, route) }) {
      return false
    }
    return true
  }

  /// Every pattern in `inner` is covered by one pattern in `outer`.
  static func covers(globs outer: [String]?, _ inner: [String]?) -> Bool {
    let outer = outer ?? []
    return (inner ?? []).allSatisfy { pattern in outer.contains { covers(glob: $0, pattern) } }
  }

  /// Name globs (`*` any run). Proven cases: equal, `*`, an exact inner the outer matches, and an
  /// outer `prefix*suffix` whose prefix and suffix the inner's literal ends carry.
  static func covers(glob outer: String, _ inner: String) -> Bool {
    if outer == inner || outer == "*" { return true }
    let outerGlob = Glob(outer)
    let innerParts = inner.split(separator: "*", omittingEmptySubsequences: false)
    if innerParts.count == 1 { return outerGlob.matches(inner) }
    let outerParts = outer.split(separator: "*", omittingEmptySubsequences: false)
    guard outerParts.count == 2, let innerFirst = innerParts.first, let innerLast = innerParts.last else {
      return false
    }
    return innerFirst.hasPrefix(outerParts[0]) && innerLast.hasSuffix(outerParts[1])
  }

  /// `namespace/serviceAccount` patterns, each side a name glob.
  static func covers(workload outer: String, _ inner: String) -> Bool {
    let outerParts = outer.split(separator: "/", omittingEmptySubsequences: false)
    let innerParts = inner.split(separator: "/", omittingEmptySubsequences: false)
    guard outerParts.count == 2, innerParts.count == 2 else { return false }
    return covers(glob: String(outerParts[0]), String(innerParts[0]))
      && covers(glob: String(outerParts[1]), String(innerParts[1]))
  }

  static func covers(route outer: PolicyDocument.HTTPRule, _ inner: PolicyDocument.HTTPRule) -> Bool {
    if let outerMethods = outer.methods, !outerMethods.isEmpty {
      guard let innerMethods = inner.methods, !innerMethods.isEmpty,
        innerMethods.allSatisfy(outerMethods.contains)
      else { return false }
    }
    guard let outerPaths = outer.paths, !outerPaths.isEmpty else { return true }
    guard let innerPaths = inner.paths, !innerPaths.isEmpty else { return false }
    return innerPaths.allSatisfy { path in outerPaths.contains { covers(path: $0, path) } }
  }

  /// Path globs. Proven cases: equal; a literal inner path the outer matches; an outer
  /// `/literal/prefix/**` whose literal segments begin the inner; same segment count without
  /// `**` where each segment glob covers.
  static func covers(path outer: String, _ inner: String) -> Bool {
    if outer == inner { return true }
    if !inner.contains("*") { return PathGlob(outer).matches(inner) }
    let outerSegments = outer.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
    let innerSegments = inner.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
    if let last = outerSegments.last, last == "**" {
      let prefix = outerSegments.dropLast()
      guard prefix.allSatisfy({ !$0.contains("*") }), innerSegments.count >= prefix.count else { return false }
      return zip(prefix, innerSegments).allSatisfy { $0 == $1 }
    }
    guard outerSegments.count == innerSegments.count, !outerSegments.contains("**"), !innerSegments.contains("**")
    else { return false }
    return zip(outerSegments, innerSegments).allSatisfy { covers(glob: $0, $1) }
  }

  /// Egress hosts: equal, an exact inner the outer `*.suffix` matches, or an inner `*.x` below it.
  static func covers(host outer: String, _ inner: String) -> Bool {
    let outer = outer.lowercased()
    let inner = inner.lowercased()
    if outer == inner { return true }
    guard outer.hasPrefix("*.") else { return false }
    if inner.hasPrefix("*.") { return inner.hasSuffix(String(outer.dropFirst(1))) }
    return HostPattern(outer).matches(inner)
  }
}
