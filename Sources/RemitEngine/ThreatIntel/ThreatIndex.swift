/// The compiled threat list of one policy snapshot (SPEC section 5, step 6). Built once per
/// snapshot; a lookup is a handful of hash-table probes whatever the number of indicators, and
/// allocates nothing on the common paths: exact tools and domains in byte tables (domains walked
/// label by label up the suffix), addresses in a set, networks keyed by (masked address, prefix
/// length) and probed once per distinct prefix length, URLs by origin then path prefix, and tool
/// globs by their literal prefix or suffix. Only tool globs with `*` in the middle are tried one
/// by one.
///
/// When several indicators match, the most specific wins (exact before glob, longer name, prefix
/// or network first); when one value is listed twice, the higher severity wins.
///
/// A class: the engine reaches it on every governed request, and a struct of ten tables was
/// copied (with a retain per table) wherever it was bound.
public final class ThreatIndex: Sendable {
  // Tools.
  private let exactTools: ByteTable<ThreatMatch>
  private let toolPrefixes: ByteTable<ThreatMatch>
  private let toolSuffixes: ByteTable<ThreatMatch>
  private let otherToolGlobs: [(glob: Glob, match: ThreatMatch)]

  // Hosts.
  private let domains: ByteTable<ThreatMatch>
  private let subdomainsOnly: ByteTable<ThreatMatch>
  /// ip indicators as /128 (/32 for IPv4), cidr indicators as written.
  private let networks: NetworkTable<ThreatMatch>

  // URLs: `scheme://host[:port]` alone, then with the path prefix (trailing `/` removed) appended.
  private let urlOrigins: ByteTable<Bool>
  private let urls: ByteTable<ThreatMatch>

  private let hashes: ByteTable<ThreatMatch>

  /// The number of indicators compiled.
  public let count: Int

  /// Longest host accepted for matching: no DNS name is longer, and it bounds the work a hostile
  /// header can cause.
  static let maximumHostBytes = 1024
  /// Longest URL accepted for matching.
  static let maximumURLBytes = 16 << 10

  /// Compiles indicators. Assumes a validated policy: an indicator that does not parse is
  /// skipped rather than trapping.
  public init(_ indicators: [PolicyDocument.Indicator]) {
    var builder = Builder()
    for indicator in indicators { builder.add(indicator) }
    exactTools = builder.exactTools
    toolPrefixes = builder.toolPrefixes
    toolSuffixes = builder.toolSuffixes
    otherToolGlobs = builder.otherToolGlobs
    domains = builder.domains
    subdomainsOnly = builder.subdomainsOnly
    networks = builder.networks
    urlOrigins = builder.urlOrigins
    urls = builder.urls
    hashes = builder.hashes
    count = builder.count
  }

  public var isEmpty: Bool { count == 0 }

  /// The tables while they are filled.
  private struct Builder {
    var exactTools = ByteTable<ThreatMatch>()
    var toolPrefixes = ByteTable<ThreatMatch>()
    var toolSuffixes = ByteTable<ThreatMatch>()
    var otherToolGlobs: [(glob: Glob, match: ThreatMatch)] = []
    var domains = ByteTable<ThreatMatch>()
    var subdomainsOnly = ByteTable<ThreatMatch>()
    var networks = NetworkTable<ThreatMatch>()
    var urlOrigins = ByteTable<Bool>()
    var urls = ByteTable<ThreatMatch>()
    var hashes = ByteTable<ThreatMatch>()
    var count = 0

    mutating func add(_ indicator: PolicyDocument.Indicator) {
      guard PolicyRules.indicatorProblem(indicator) == nil else { return }
      let match = ThreatMatch(indicator)
      let prefer = ThreatIndex.moreSevere
      switch indicator.type {
      case .tool:
        let glob = Glob(indicator.value)
        switch glob.shape {
        case .exact(let bytes): exactTools.insert(bytes, match, prefer: prefer)
        case .prefix(let bytes): toolPrefixes.insert(bytes, match, prefer: prefer)
        case .suffix(let bytes): toolSuffixes.insert(bytes, match, prefer: prefer)
        case .general: otherToolGlobs.append((glob, match))
        case .any: return  // refused by validation: never match every tool by accident
        }
      case .domain:
        guard case .success(let domain) = IndicatorValue.parseDomain(indicator.value) else { return }
        if domain.subdomainsOnly {
          subdomainsOnly.insert(Array(domain.name.utf8), match, prefer: prefer)
        } else {
          domains.insert(Array(domain.name.utf8), match, prefer: prefer)
        }
      case .ip:
        guard case .success(let address) = IndicatorValue.parseAddress(indicator.value) else { return }
        networks.insert(address, prefixLength: 128, match, prefer: prefer)
      case .cidr:
        guard case .success(let network) = IndicatorValue.parseNetwork(indicator.value) else { return }
        networks.insert(network.address, prefixLength: network.prefixLength, match, prefer: prefer)
      case .url:
        guard case .success(let url) = IndicatorValue.parseURL(indicator.value, strictHost: true) else { return }
        let origin = Array(url.origin.utf8)
        urlOrigins.insert(origin, true) { existing, _ in existing }
        urls.insert(origin + Array(url.pathKey.utf8), match, prefer: prefer)
      case .hash:
        hashes.insert(Array(IndicatorValue.asciiLowercased(Substring(indicator.value)).utf8), match, prefer: prefer)
      }
      count += 1
    }
  }

  fileprivate static func moreSevere(_ existing: ThreatMatch, _ new: ThreatMatch) -> ThreatMatch {
    rank(new.severity) > rank(existing.severity) ? new : existing
  }

  private static func rank(_ severity: Severity) -> Int {
    switch severity {
    case .low: 0
    case .medium: 1
    case .high: 2
    case .critical: 3
    }
  }

  // MARK: Tools

  /// Tool indicators: exact names, then `prefix*`, `*suffix` and other globs (`*` matches any
  /// run of characters), compared as UTF-8 bytes like every other name glob. Case-sensitive, as
  /// MCP tool names are.
  public func matchTool(_ name: String) -> ThreatMatch? {
    var name = name
    return name.withUTF8 { matchTool(utf8: $0) }
  }

  public func matchTool(utf8 name: UnsafeBufferPointer<UInt8>) -> ThreatMatch? {
    if let match = exactTools.value(for: name) { return match }
    for length in toolPrefixes.lengths where length <= name.count {
      if let match = toolPrefixes.value(for: name[..<length]) { return match }
    }
    for length in toolSuffixes.lengths where length <= name.count {
      if let match = toolSuffixes.value(for: name[(name.count - length)...]) { return match }
    }
    return otherToolGlobs.first { $0.glob.matches(utf8: name) }?.match
  }

  // MARK: Hosts

  /// A host name or IP literal, as from a Host header, SNI or `destination.service`. Domain
  /// indicators match the name and every subdomain, `*.name` only subdomains; an IP literal is
  /// checked against ip and cidr indicators, IPv4-mapped IPv6 as IPv4. Case-insensitive; a
  /// trailing dot, IPv6 brackets and a `:port` after a name or address are ignored.
  public func matchHost(_ host: String) -> ThreatMatch? {
    var host = host
    return host.withUTF8 { matchHost(utf8: $0) }
  }

  public func matchHost(utf8 host: UnsafeBufferPointer<UInt8>) -> ThreatMatch? {
    guard !host.isEmpty, host.count <= Self.maximumHostBytes else { return nil }
    if Self.mayBeAddress(host) {
      if let address = Self.address(in: host) { return matchAddress(address) }
    }
    guard !domains.isEmpty || !subdomainsOnly.isEmpty else { return nil }
    var end = host.count
    if let colon = host.lastIndex(of: UInt8(ascii: ":")) { end = colon }
    if end > 0 && host[end - 1] == UInt8(ascii: ".") { end -= 1 }
    return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: end) { name in
      for index in 0..<end { name[index] = Self.lowercased(host[index]) }
      return matchDomain(UnsafeBufferPointer(name))
    }
  }

  /// `name` is lower case. Walks from the whole name up its suffixes, probing only those no
  /// longer than the longest indicator, so a long hostile name costs a few probes per label.
  private func matchDomain(_ name: UnsafeBufferPointer<UInt8>) -> ThreatMatch? {
    let longest = max(domains.longest, subdomainsOnly.longest)
    var start = 0
    while start < name.count {
      if name.count - start <= longest {
        let suffix = name[start...]
        if let match = domains.value(for: suffix) { return match }
        if start > 0, let match = subdomainsOnly.value(for: suffix) { return match }
      }
      guard let dot = name[start...].firstIndex(of: UInt8(ascii: ".")) else { return nil }
      start = dot + 1
    }
    return nil
  }

  @inline(__always)
  private static func lowercased(_ byte: UInt8) -> UInt8 {
    byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
  }

  /// Only hex digits, dots, colons and brackets: names with any other letter skip the parser.
  private static func mayBeAddress(_ host: UnsafeBufferPointer<UInt8>) -> Bool {
    host.allSatisfy {
      IndicatorValue.isHexDigit($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: ":")
        || $0 == UInt8(ascii: "[") || $0 == UInt8(ascii: "]")
    }
  }

  /// The address of an IP literal host: bare, bracketed, with a port after the brackets or
  /// after an IPv4 address, with a trailing dot.
  private static func address(in host: UnsafeBufferPointer<UInt8>) -> AddressKey? {
    var literal = host[...]
    if literal.first == UInt8(ascii: "["), let close = literal.firstIndex(of: UInt8(ascii: "]")) {
      literal = literal[literal.startIndex + 1..<close]
    } else if let colon = literal.firstIndex(of: UInt8(ascii: ":")),
      !literal[(colon + 1)...].contains(UInt8(ascii: ":"))
    {
      literal = literal[..<colon]
    }
    if literal.last == UInt8(ascii: ".") { literal = literal.dropLast() }
    return AddressKey(utf8: UnsafeBufferPointer(rebasing: literal))
  }

  private func matchAddress(_ address: AddressKey) -> ThreatMatch? {
    networks.longestMatch(address)
  }

  // MARK: URLs

  /// URL indicators first: same scheme, host and port (case-insensitive, default ports
  /// ignored) and the indicator's path a prefix of the URL's path on a segment boundary
  /// (`/a/b` matches `/a/b`, `/a/b/` and `/a/b/c`, not `/a/bc`). User information, query and
  /// fragment are ignored. Then the URL's host, as `matchHost`.
  public func matchURL(_ url: String) -> ThreatMatch? {
    var url = url
    return url.withUTF8 { matchURL(utf8: $0) }
  }

  public func matchURL(utf8 url: UnsafeBufferPointer<UInt8>) -> ThreatMatch? {
    guard url.count <= Self.maximumURLBytes, let parts = URLRanges(url) else { return nil }
    let host = UnsafeBufferPointer(rebasing: url[parts.host])
    let address = parts.isBracketed ? AddressKey(utf8: host) : nil
    if parts.isBracketed && address == nil { return nil }
    if !urls.isEmpty, let match = matchURLIndicators(url, parts, address) { return match }
    if let address { return matchAddress(address) }
    return matchHost(utf8: host)
  }

  private func matchURLIndicators(
    _ url: UnsafeBufferPointer<UInt8>,
    _ parts: URLRanges,
    _ address: AddressKey?
  ) -> ThreatMatch? {
    // The origin as the index spells it: lower case, IPv6 canonical, default port dropped.
    var hostBytes: [UInt8] = []
    if let address { hostBytes = Array((address.isIPv4Mapped ? address.text : "[\(address.text)]").utf8) }
    let hostCount = address == nil ? parts.host.count : hostBytes.count
    let scheme = url[parts.scheme]
    let port = parts.port.flatMap { IndicatorValue.defaultPort(scheme: scheme) == $0 ? nil : $0 }
    var path = parts.path
    while path.count > 0 && url[path.upperBound - 1] == UInt8(ascii: "/") {
      path = path.lowerBound..<path.upperBound - 1
    }
    let capacity = scheme.count + 3 + hostCount + 6 + path.count
    return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { key -> ThreatMatch? in
      var length = 0
      func append(_ byte: UInt8) {
        key[length] = byte
        length += 1
      }
      for byte in scheme { append(Self.lowercased(byte)) }
      for byte in "://".utf8 { append(byte) }
      if address == nil {
        for byte in url[parts.host] { append(Self.lowercased(byte)) }
      } else {
        for byte in hostBytes { append(byte) }
      }
      if let port {
        append(UInt8(ascii: ":"))
        for byte in String(port).utf8 { append(byte) }
      }
      let originLength = length
      guard urlOrigins.value(for: UnsafeBufferPointer(rebasing: key[..<originLength])) != nil else { return nil }
      for byte in url[path] { append(byte) }
      // Longest prefix first: the whole path, then each prefix ending before a `/`.
      var end = length
      while end >= originLength {
        if end <= urls.longest,
          end == length || key[end] == UInt8(ascii: "/"),
          let match = urls.value(for: UnsafeBufferPointer(rebasing: key[..<end]))
        {
          return match
        }
        end -= 1
      }
      return nil
    }
  }

  // MARK: Hashes

  /// MD5, SHA-1, SHA-256 or SHA-512 in hex, case-insensitive.
  public func matchHash(_ value: String) -> ThreatMatch? {
    guard !hashes.isEmpty, IndicatorValue.hashLengths.contains(value.utf8.count) else { return nil }
    var value = value
    return value.withUTF8 { hash in
      withUnsafeTemporaryAllocation(of: UInt8.self, capacity: hash.count) { lowered in
        for index in 0..<hash.count { lowered[index] = Self.lowercased(hash[index]) }
        return hashes.value(for: UnsafeBufferPointer(lowered))
      }
    }
  }
}

/// Byte ranges of a URL's scheme, host (without brackets or trailing dot), port and path.
struct URLRanges {
  var scheme: Range<Int>
  var host: Range<Int>
  var isBracketed: Bool
  var port: Int?
  var path: Range<Int>

  init?(_ url: UnsafeBufferPointer<UInt8>) {
    guard let colon = url.firstIndex(of: UInt8(ascii: ":")), colon > 0,
      url[colon...].starts(with: "://".utf8)
    else { return nil }
    scheme = 0..<colon
    let authorityStart = colon + 3
    let authorityEnd =
      url[authorityStart...].firstIndex {
        $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#")
      } ?? url.count
    var hostStart = authorityStart
    if let at = url[authorityStart..<authorityEnd].lastIndex(of: UInt8(ascii: "@")) { hostStart = at + 1 }
    var hostEnd = authorityEnd
    var portStart: Int?
    isBracketed = hostStart < authorityEnd && url[hostStart] == UInt8(ascii: "[")
    if isBracketed {
      guard let close = url[hostStart..<authorityEnd].firstIndex(of: UInt8(ascii: "]")) else { return nil }
      if close + 1 < authorityEnd {
        guard url[close + 1] == UInt8(ascii: ":") else { return nil }
        portStart = close + 2
      }
      hostStart += 1
      hostEnd = close
    } else if let portColon = url[hostStart..<authorityEnd].firstIndex(of: UInt8(ascii: ":")) {
      hostEnd = portColon
      portStart = portColon + 1
    }
    if !isBracketed && hostEnd > hostStart && url[hostEnd - 1] == UInt8(ascii: ".") { hostEnd -= 1 }
    guard hostEnd > hostStart else { return nil }
    host = hostStart..<hostEnd
    if let portStart, portStart < authorityEnd {
      var number = 0
      for byte in url[portStart..<authorityEnd] {
        guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"), number <= 65535 else { return nil }
        number = number * 10 + Int(byte - UInt8(ascii: "0"))
      }
      guard number <= 65535 else { return nil }
      port = number
    }
    let pathEnd = url[authorityEnd...].firstIndex { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") } ?? url.count
    path = authorityEnd..<pathEnd
  }
}
