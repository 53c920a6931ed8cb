/// Parsing and normalisation of threat indicator values, shared by the validation rules, the
/// compiled `ThreatIndex` and the feed importer so that all three agree on what a value means.
enum IndicatorValue {
  /// Longest value accepted, in bytes (URLs are the longest kind).
  static let maximumBytes = 2048
  /// Longest tool name or glob, as for policy name globs.
  static let maximumToolBytes = 512
  /// Longest DNS name.
  static let maximumDomainBytes = 253
  /// Longest `source`.
  static let maximumSourceBytes = 256

  /// Why a value cannot be used, in words a person can act on.
  struct Problem: Error, Sendable, Equatable {
    var message: String
    init(_ message: String) { self.message = message }
  }

  // MARK: Domains

  /// A domain indicator: `example.com` (the name and its subdomains) or `*.example.com`
  /// (subdomains only). Case-insensitive; one trailing dot is allowed.
  struct Domain: Sendable, Equatable {
    /// Lower case, without `*.` and without a trailing dot.
    var name: String
    var subdomainsOnly: Bool

    var normalised: String { subdomainsOnly ? "*." + name : name }
  }

  static func parseDomain(_ value: String) -> Result<Domain, Problem> {
    var name = Substring(value)
    let subdomainsOnly = name.hasPrefix("*.")
    if subdomainsOnly { name = name.dropFirst(2) }
    if name.hasSuffix(".") { name = name.dropLast() }
    if let problem = hostNameProblem(name.utf8) {
      return .failure(Problem(problem))
    }
    if AddressKey(literal: name) != nil {
      return .failure(Problem("is an IP address; use type ip (or cidr) for addresses"))
    }
    return .success(Domain(name: asciiLowercased(name), subdomainsOnly: subdomainsOnly))
  }

  /// Labels of letters, digits, `-` and `_` (feeds list names that are not valid host names),
  /// 1-63 bytes each, at most 253 bytes in all; ASCII only (internationalised names in punycode).
  static func hostNameProblem(_ name: Substring.UTF8View) -> String? {
    if name.isEmpty { return "must not be empty" }
    if name.count > maximumDomainBytes { return "must be at most \(maximumDomainBytes) characters" }
    var labelLength = 0
    var previous: UInt8 = UInt8(ascii: ".")
    for byte in name {
      if byte == UInt8(ascii: ".") {
        if labelLength == 0 { return "must not have an empty label (no leading, trailing or double dots)" }
        if previous == UInt8(ascii: "-") { return "labels must not end with '-'" }
        labelLength = 0
      } else {
        if byte >= 0x80 { return "must be ASCII; write internationalised names in punycode (xn--...)" }
        guard isHostByte(byte) else {
          return byte == UInt8(ascii: "*")
            ? "may use * only as a leading *. (subdomains of a name)"
            : "must consist of letters, digits, '-', '_' and dots"
        }
        if labelLength == 0 && byte == UInt8(ascii: "-") { return "labels must not start with '-'" }
        labelLength += 1
        if labelLength > 63 { return "labels must be at most 63 characters" }
      }
      previous = byte
    }
    if labelLength == 0 { return "must not have an empty label (no leading, trailing or double dots)" }
    if previous == UInt8(ascii: "-") { return "labels must not end with '-'" }
    return nil
  }

  @inline(__always)
  static func isHostByte(_ byte: UInt8) -> Bool {
    DNSName.isLowerAlnum(byte) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
      || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
  }

  // MARK: Addresses

  static func parseAddress(_ value: String) -> Result<AddressKey, Problem> {
    guard let key = AddressKey(literal: value) else {
      return .failure(Problem("must be an IPv4 or IPv6 address such as 192.0.2.7 or 2001:db8::7"))
    }
    return .success(key)
  }

  /// A network: `address/prefix`. IPv4 prefixes are kept in the IPv4-mapped space (96 + n).
  struct Network: Sendable, Equatable {
    var address: AddressKey
    /// 1...128 in the 128-bit space.
    var prefixLength: Int
    var isIPv4: Bool

    var normalised: String { "\(address.text)/\(isIPv4 ? prefixLength - AddressKey.mappedPrefixLength : prefixLength)" }
  }

  static func parseNetwork(_ value: String) -> Result<Network, Problem> {
    let shape = "must be address/prefix, such as 198.51.100.0/24 or 2001:db8::/32"
    let parts = value.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 2, let key = AddressKey(literal: parts[0]) else { return .failure(Problem(shape)) }
    let isIPv4 = !parts[0].contains(":")
    let limit = isIPv4 ? 32 : 128
    guard !parts[1].isEmpty, parts[1].utf8.count <= 3, parts[1].utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
      let written = Int(parts[1]), written <= limit
    else {
      return .failure(Problem("\(shape), with prefix <= \(limit) for \(isIPv4 ? "IPv4" : "IPv6")"))
    }
    guard written > 0 else { return .failure(Problem("prefix /0 would match every address; list networks")) }
    let prefixLength = isIPv4 ? AddressKey.mappedPrefixLength + written : written
    let network = key.masked(to: prefixLength)
    guard network == key else {
      return .failure(
        Problem("has address bits set after the /\(written) prefix; the network is \(network.text)/\(written)"))
    }
    // An IPv4-mapped IPv6 network is written back as IPv4.
    let mapped = network.isIPv4Mapped && prefixLength > AddressKey.mappedPrefixLength
    return .success(Network(address: network, prefixLength: prefixLength, isIPv4: mapped))
  }

  // MARK: Hashes

  static let hashLengths: Set<Int> = [32, 40, 64, 128]

  static func hashProblem(_ value: String) -> String? {
    guard hashLengths.contains(value.utf8.count), value.utf8.allSatisfy(isHexDigit) else {
      return "must be 32, 40, 64 or 128 hex digits (MD5, SHA-1, SHA-256 or SHA-512)"
    }
    return nil
  }

  @inline(__always)
  static func isHexDigit(_ byte: UInt8) -> Bool {
    (byte >= 48 && byte <= 57) || (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "f"))
  }

  // MARK: Tools

  static func toolProblem(_ value: String) -> String? {
    if value.isEmpty { return "must not be empty" }
    if value.utf8.count > maximumToolBytes { return "must be at most \(maximumToolBytes) characters" }
    if value.utf8.allSatisfy({ $0 == UInt8(ascii: "*") }) {
      return "must name tools; a pattern of only * would match every tool"
    }
    if value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
      return "must not contain control characters"
    }
    return nil
  }

  // MARK: URLs

  /// A URL split into the parts Remit matches: scheme, host, port and path. Query, fragment
  /// and user information are recognised so that they can be refused (indicators) or ignored
  /// (requests).
  struct URLParts: Sendable, Equatable {
    /// Lower case.
    var scheme: String
    /// Lower case without a trailing dot; IP literals in canonical form without brackets.
    var host: String
    var address: AddressKey?
    /// Nil when absent or the scheme's default.
    var port: Int?
    /// From the first `/` up to `?` or `#`; empty when the URL has no path.
    var path: Substring
    var hasQueryOrFragment: Bool
    var hasUserInfo: Bool

    /// `scheme://host[:port]`, the dictionary key of URL indicators.
    var origin: String {
      let hostText = address.map { $0.isIPv4Mapped ? host : "[\(host)]" } ?? host
      return port.map { "\(scheme)://\(hostText):\($0)" } ?? "\(scheme)://\(hostText)"
    }

    /// The path as a prefix key: trailing `/` removed, so `/` is empty and `/a/` is `/a`.
    var pathKey: Substring {
      var key = path
      while key.hasSuffix("/") { key = key.dropLast() }
      return key
    }

    var normalised: String { origin + (path.isEmpty ? "/" : String(path)) }
  }

  /// The default port of a scheme written in any case, without allocating.
  static func defaultPort(scheme: some Collection<UInt8>) -> Int? {
    guard scheme.count <= 5 else { return nil }
    var lowered: UInt64 = 0
    for byte in scheme { lowered = lowered << 8 | UInt64(byte >= 65 && byte <= 90 ? byte | 0x20 : byte) }
    switch lowered {
    case 0x68_74_74_70: return 80  // http
    case 0x68_74_74_70_73: return 443  // https
    case 0x77_73: return 80  // ws
    case 0x77_73_73: return 443  // wss
    case 0x66_74_70: return 21  // ftp
    default: return nil
    }
  }

  /// Parses an absolute URL. `strictHost` requires a valid host name (indicators); requests
  /// only need a non-empty host.
  static func parseURL(_ value: String, strictHost: Bool) -> Result<URLParts, Problem> {
    let shape = "must be an absolute URL scheme://host[:port]/path, such as https://malware.example/payload"
    let utf8 = value.utf8
    guard let colon = utf8.firstIndex(of: UInt8(ascii: ":")) else { return .failure(Problem(shape)) }
    let schemeBytes = utf8[..<colon]
    guard let first = schemeBytes.first, first | 0x20 >= UInt8(ascii: "a"), first | 0x20 <= UInt8(ascii: "z"),
      schemeBytes.count <= 32,
      schemeBytes.allSatisfy({
        isHostByte($0) && $0 != UInt8(ascii: "_") || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: ".")
      }),
      utf8[colon...].starts(with: "://".utf8)
    else { return .failure(Problem(shape)) }
    let scheme = asciiLowercased(value[..<colon])
    let authorityStart = utf8.index(colon, offsetBy: 3)
    let authorityEnd =
      utf8[authorityStart...].firstIndex {
        $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#")
      } ?? utf8.endIndex
    var hostPort = value[authorityStart..<authorityEnd]
    var hasUserInfo = false
    if let at = hostPort.utf8.lastIndex(of: UInt8(ascii: "@")) {
      hasUserInfo = true
      hostPort = hostPort[hostPort.utf8.index(after: at)...]
    }

    // Host, then an optional port.
    var hostText: Substring
    var portText: Substring?
    if hostPort.hasPrefix("[") {
      guard let close = hostPort.utf8.firstIndex(of: UInt8(ascii: "]")) else { return .failure(Problem(shape)) }
      hostText = hostPort[hostPort.utf8.index(after: hostPort.startIndex)..<close]
      let rest = hostPort[hostPort.utf8.index(after: close)...]
      if !rest.isEmpty {
        guard rest.hasPrefix(":") else { return .failure(Problem(shape)) }
        portText = rest.dropFirst()
      }
    } else if let portColon = hostPort.utf8.firstIndex(of: UInt8(ascii: ":")) {
      hostText = hostPort[..<portColon]
      portText = hostPort[hostPort.utf8.index(after: portColon)...]
    } else {
      hostText = hostPort
    }
    if hostText.hasSuffix(".") { hostText = hostText.dropLast() }
    guard !hostText.isEmpty else { return .failure(Problem("\(shape): the host is missing")) }

    var port: Int?
    if let portText, !portText.isEmpty || strictHost {
      guard portText.utf8.count <= 5, portText.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let number = Int(portText),
        (1...65535).contains(number)
      else { return .failure(Problem("\(shape): the port must be 1 to 65535")) }
      port = defaultPort(scheme: scheme.utf8) == number ? nil : number
    }

    let host: String
    let address = AddressKey(literal: hostText)
    if let address {
      // Brackets for IPv6 and none for IPv4, as URLs write them.
      guard hostPort.hasPrefix("[") == hostText.contains(":") else { return .failure(Problem(shape)) }
      host = address.text
    } else {
      if strictHost, let problem = hostNameProblem(hostText.utf8) {
        return .failure(Problem("host \(problem)"))
      }
      host = asciiLowercased(hostText)
    }

    let pathEnd =
      utf8[authorityEnd...].firstIndex { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") } ?? utf8.endIndex
    return .success(
      URLParts(
        scheme: scheme,
        host: host,
        address: address,
        port: port,
        path: value[authorityEnd..<pathEnd],
        hasQueryOrFragment: pathEnd != utf8.endIndex,
        hasUserInfo: hasUserInfo
      ))
  }

  static func urlProblem(_ value: String) -> String? {
    switch parseURL(value, strictHost: true) {
    case .failure(let problem):
      return problem.message
    case .success(let url):
      if url.hasUserInfo { return "must not contain user information (user@)" }
      if url.hasQueryOrFragment {
        return "must not contain a query or fragment; Remit matches scheme, host, port and a path prefix"
      }
      if url.path.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7F || $0 == UInt8(ascii: "\\") }) {
        return "path must be printable ASCII without spaces or backslashes (percent-encode the rest)"
      }
      return nil
    }
  }

  // MARK: Normalisation

  /// The canonical spelling of a valid value: what the index keys on and what the feed importer
  /// writes, so that `Evil.Example`, `evil.example.` and `evil.example` are one indicator.
  /// An invalid value is returned unchanged.
  static func normalised(_ type: IndicatorType, _ value: String) -> String {
    switch type {
    case .tool:
      return value
    case .domain:
      return (try? parseDomain(value).get())?.normalised ?? value
    case .ip:
      return (try? parseAddress(value).get())?.text ?? value
    case .cidr:
      return (try? parseNetwork(value).get())?.normalised ?? value
    case .url:
      guard urlProblem(value) == nil, let url = try? parseURL(value, strictHost: true).get() else { return value }
      return url.normalised
    case .hash:
      return hashProblem(value) == nil ? asciiLowercased(Substring(value)) : value
    }
  }

  /// ASCII lower case without touching other bytes (no Unicode case mapping).
  static func asciiLowercased(_ text: Substring) -> String {
    guard text.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else {
      return String(text)
    }
    return String(
      decoding: text.utf8.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 | 0x20 : $0 }, as: UTF8.self)
  }

  static func sourceProblem(_ source: String) -> String? {
    let count = source.utf8.count
    guard count >= 1, count <= maximumSourceBytes,
      !source.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
    else { return "source must be 1 to \(maximumSourceBytes) printable characters" }
    return nil
  }
}
