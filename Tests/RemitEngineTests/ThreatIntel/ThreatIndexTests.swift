import Testing

@testable import RemitEngine

@Suite struct ThreatIndexTests {
  typealias Indicator = PolicyDocument.Indicator

  static let index = ThreatIndex([
    Indicator(type: .tool, value: "exfiltrate_data", severity: .critical, source: "feed-x"),
    Indicator(type: .tool, value: "exfil_*", severity: .medium),
    Indicator(type: .tool, value: "*_backdoor"),
    Indicator(type: .tool, value: "shell*exec*", severity: .low),
    Indicator(type: .tool, value: "é*"),
    Indicator(type: .domain, value: "evil.example", source: "feed-x"),
    Indicator(type: .domain, value: "*.tracker.example", severity: .low),
    Indicator(type: .domain, value: "Shouty.Example."),
    Indicator(type: .ip, value: "203.0.113.7"),
    Indicator(type: .ip, value: "2001:db8::dead"),
    Indicator(type: .cidr, value: "198.51.100.0/24", severity: .medium),
    Indicator(type: .cidr, value: "198.51.100.128/25", severity: .critical),
    Indicator(type: .cidr, value: "2001:db8:bad::/48"),
    Indicator(type: .url, value: "https://cdn.example/payloads/stage2", severity: .critical),
    Indicator(type: .url, value: "HTTP://Files.Example:8080/"),
    Indicator(type: .url, value: "https://[2001:db8::1]/x"),
    Indicator(type: .hash, value: "D41D8CD98F00B204E9800998ECF8427E"),
    Indicator(type: .hash, value: String(repeating: "ab", count: 32)),
  ])

  /// The engine hands the destination's authority to `matchHost` as sent; it must match as the
  /// host `DecisionEngine.hostWithoutPort` makes of it would.
  @Test func anAuthorityMatchesAsItsHostWithoutPort() {
    let authorities = [
      "evil.example", "EVIL.example:443", "evil.example.", "evil.example.:8080", "a.tracker.example:1",
      "tracker.example", "shouty.example", "Shouty.Example.:80", "203.0.113.7", "203.0.113.7:8080",
      "203.0.113.7.", "[2001:db8::dead]", "[2001:db8::dead]:443", "[2001:DB8::DEAD]:1", "2001:db8::dead",
      "198.51.100.200:9", "[2001:db8:bad::1]:80", "[::1]:8080", "example.com:8080", "", ":", ":80", "evil.example:",
      "a:b:evil.example", "evil.example:1:2", "[evil.example]", "[2001:db8::dead", "198.51.100.7:", "inventory.tools",
    ]
    for authority in authorities where authority.first != "[" {
      let host = DecisionEngine.hostWithoutPort(authority)
      let expected = host.isEmpty ? nil : Self.index.matchHost(host)?.indicator
      #expect(Self.index.matchHost(authority)?.indicator == expected, "\(authority) -> \(host)")
    }
    // A bracketed name is no IP literal to `matchHost`: the engine takes the brackets off first.
    #expect(Self.index.matchHost("[evil.example]") == nil)
    #expect(Self.index.matchHost(DecisionEngine.hostWithoutPort("[evil.example]:1"))?.indicator == "evil.example")
  }

  @Test(arguments: [
    ("exfiltrate_data", "exfiltrate_data"),
    ("exfil_", "exfil_*"),
    ("exfil_files", "exfil_*"),
    ("open_backdoor", "*_backdoor"),
    ("shellexec", "shell*exec*"),
    ("shell_run_exec_now", "shell*exec*"),
    ("évasion", "é*"),
  ])
  func toolsMatch(_ name: String, _ indicator: String) {
    #expect(Self.index.matchTool(name)?.indicator == indicator)
  }

  @Test(arguments: ["exfiltrate", "Exfiltrate_data", "exfil", "backdoor", "_backdoors", "shell", "get_stock", "", "e"])
  func toolsThatDoNotMatch(_ name: String) {
    #expect(Self.index.matchTool(name) == nil)
  }

  @Test func matchCarriesSeveritySourceAndDefaults() {
    #expect(
      Self.index.matchTool("exfiltrate_data")
        == ThreatMatch(type: .tool, indicator: "exfiltrate_data", severity: .critical, source: "feed-x"))
    #expect(Self.index.matchTool("x_backdoor")?.severity == .high)
    #expect(Self.index.matchTool("x_backdoor")?.source == nil)
    #expect(Self.index.matchHost("evil.example")?.type == .domain)
  }

  @Test(arguments: [
    ("evil.example", "evil.example"),
    ("api.evil.example", "evil.example"),
    ("a.b.c.evil.example", "evil.example"),
    ("EVIL.example", "evil.example"),
    ("evil.example.", "evil.example"),
    ("evil.example:443", "evil.example"),
    ("x.tracker.example", "*.tracker.example"),
    ("deep.x.tracker.example", "*.tracker.example"),
    ("shouty.example", "Shouty.Example."),
    ("www.shouty.example", "Shouty.Example."),
  ])
  func hostsMatchDomains(_ host: String, _ indicator: String) {
    #expect(Self.index.matchHost(host)?.indicator == indicator)
  }

  @Test(arguments: [
    "notevil.example", "evil.example.com", "example", "tracker.example", "xtracker.example", "evil", "",
    "evil.exampl", "good.example",
  ])
  func hostsThatDoNotMatch(_ host: String) {
    #expect(Self.index.matchHost(host) == nil)
  }

  @Test(arguments: [
    ("203.0.113.7", "203.0.113.7"),
    ("203.0.113.7:8443", "203.0.113.7"),
    ("::ffff:203.0.113.7", "203.0.113.7"),
    ("[::ffff:cb00:7107]", "203.0.113.7"),
    ("2001:db8::dead", "2001:db8::dead"),
    ("[2001:DB8:0:0::DEAD]:443", "2001:db8::dead"),
    ("198.51.100.1", "198.51.100.0/24"),
    ("198.51.100.127", "198.51.100.0/24"),
    ("198.51.100.128", "198.51.100.128/25"),
    ("198.51.100.255", "198.51.100.128/25"),
    ("::ffff:198.51.100.5", "198.51.100.0/24"),
    ("2001:db8:bad::1", "2001:db8:bad::/48"),
    ("2001:db8:bad:ffff:ffff:ffff:ffff:ffff", "2001:db8:bad::/48"),
  ])
  func addressesMatchIPsAndNetworks(_ host: String, _ indicator: String) {
    #expect(Self.index.matchHost(host)?.indicator == indicator)
  }

  @Test(arguments: ["203.0.113.8", "198.51.101.1", "2001:db8::deaf", "2001:db8:bae::1", "::203.0.113.7", "10.0.0.1"])
  func addressesThatDoNotMatch(_ host: String) {
    #expect(Self.index.matchHost(host) == nil)
  }

  @Test(arguments: [
    ("https://cdn.example/payloads/stage2", "https://cdn.example/payloads/stage2"),
    ("https://cdn.example/payloads/stage2/", "https://cdn.example/payloads/stage2"),
    ("https://cdn.example/payloads/stage2/run.sh", "https://cdn.example/payloads/stage2"),
    ("HTTPS://CDN.example:443/payloads/stage2?x=1#y", "https://cdn.example/payloads/stage2"),
    ("https://user@cdn.example/payloads/stage2", "https://cdn.example/payloads/stage2"),
    ("http://files.example:8080", "HTTP://Files.Example:8080/"),
    ("http://files.example:8080/any/thing", "HTTP://Files.Example:8080/"),
    ("https://[2001:db8::1]/x/y", "https://[2001:db8::1]/x"),
    // Then the host: domain and address indicators apply to URLs too.
    ("https://api.evil.example/v1", "evil.example"),
    ("http://203.0.113.7/", "203.0.113.7"),
    ("http://[::ffff:198.51.100.200]:81/", "198.51.100.128/25"),
  ])
  func urlsMatch(_ url: String, _ indicator: String) {
    #expect(Self.index.matchURL(url)?.indicator == indicator)
  }

  @Test(arguments: [
    "https://cdn.example/payloads/stage20", "https://cdn.example/payloads", "http://cdn.example/payloads/stage2",
    "https://cdn.example:8443/payloads/stage2", "http://files.example/", "https://files.example:8080/",
    "https://[2001:db8::1]/xy", "not a url", "https://", "https://good.example/payloads/stage2",
  ])
  func urlsThatDoNotMatch(_ url: String) {
    #expect(Self.index.matchURL(url) == nil)
  }

  @Test func hashesMatchCaseInsensitively() {
    #expect(Self.index.matchHash("d41d8cd98f00b204e9800998ecf8427e")?.indicator == "D41D8CD98F00B204E9800998ECF8427E")
    #expect(Self.index.matchHash(String(repeating: "AB", count: 32)) != nil)
    #expect(Self.index.matchHash("d41d8cd98f00b204e9800998ecf8427f") == nil)
    #expect(Self.index.matchHash("d41d8cd98f00b204e9800998ecf8427") == nil)
  }

  @Test func theMostSpecificAndMostSevereIndicatorWins() {
    let index = ThreatIndex([
      Indicator(type: .domain, value: "example.org", severity: .low),
      Indicator(type: .domain, value: "bad.example.org", severity: .medium),
      Indicator(type: .tool, value: "drop_*", severity: .low),
      Indicator(type: .tool, value: "drop_table*", severity: .medium),
      Indicator(type: .ip, value: "192.0.2.1", severity: .low),
      Indicator(type: .ip, value: "::ffff:192.0.2.1", severity: .critical),
      Indicator(type: .ip, value: "192.0.2.1", severity: .medium),
    ])
    #expect(index.matchHost("x.bad.example.org")?.indicator == "bad.example.org")
    #expect(index.matchHost("other.example.org")?.indicator == "example.org")
    #expect(index.matchTool("drop_tables")?.indicator == "drop_table*")
    #expect(index.matchTool("drop_users")?.indicator == "drop_*")
    #expect(index.matchHost("192.0.2.1")?.severity == .critical)
  }

  @Test func invalidIndicatorsAreSkippedNotTrapped() {
    let index = ThreatIndex([
      Indicator(type: .tool, value: "*"),
      Indicator(type: .tool, value: ""),
      Indicator(type: .domain, value: "bad..example"),
      Indicator(type: .ip, value: "999.1.1.1"),
      Indicator(type: .cidr, value: "10.0.0.0/0"),
      Indicator(type: .cidr, value: "10.0.0.1/8"),
      Indicator(type: .url, value: "ftp//x"),
      Indicator(type: .hash, value: "xyz"),
    ])
    #expect(index.isEmpty)
    #expect(index.matchTool("anything") == nil)
    #expect(index.matchHost("10.0.0.1") == nil)
    #expect(ThreatIndex([]).isEmpty)
  }

  @Test func aHostileHostIsBounded() {
    let index = ThreatIndex([Indicator(type: .domain, value: "evil.example")])
    let long = String(repeating: "a.", count: 400) + "evil.example"
    #expect(index.matchHost(long)?.indicator == "evil.example")
    let tooLong = String(repeating: "a.", count: 600) + "evil.example"
    #expect(index.matchHost(tooLong) == nil)
  }

  /// SPEC section 13 runs the engine with 10,000 indicators: every one must be found by its own
  /// value, and near misses must not be.
  @Test func tenThousandMixedIndicators() {
    var indicators: [Indicator] = []
    for number in 0..<1_250 {
      let a = number >> 8
      let b = number & 0xFF
      indicators += [
        Indicator(type: .tool, value: "evil_tool_\(number)"),
        Indicator(type: .tool, value: "exfil\(number)_*"),
        Indicator(type: .domain, value: "bad-\(number).example"),
        Indicator(type: .domain, value: "*.wild-\(number).example"),
        Indicator(type: .ip, value: "10.\(a).\(b).1"),
        Indicator(type: .cidr, value: number.isMultiple(of: 2) ? "172.16.\(b).0/\(24 + a)" : "2001:db8:\(number)::/48"),
        Indicator(type: .url, value: "https://cdn-\(number).example/p/\(number)"),
        Indicator(type: .hash, value: Self.hash(number)),
      ]
    }
    let index = ThreatIndex(indicators)
    #expect(index.count == 10_000)
    for number in 0..<1_250 {
      let a = number >> 8
      let b = number & 0xFF
      #expect(index.matchTool("evil_tool_\(number)")?.indicator == "evil_tool_\(number)")
      #expect(index.matchTool("exfil\(number)_files")?.indicator == "exfil\(number)_*")
      #expect(index.matchHost("www.bad-\(number).example")?.indicator == "bad-\(number).example")
      #expect(index.matchHost("x.wild-\(number).example")?.indicator == "*.wild-\(number).example")
      #expect(index.matchHost("wild-\(number).example") == nil)
      #expect(index.matchHost("10.\(a).\(b).1")?.type == .ip)
      #expect(index.matchHost("10.\(a).\(b).2") == nil)
      if number.isMultiple(of: 2) {
        #expect(index.matchHost("172.16.\(b).0")?.type == .cidr)
      } else {
        #expect(index.matchHost("2001:db8:\(number):1::9")?.type == .cidr)
      }
      #expect(index.matchURL("https://cdn-\(number).example/p/\(number)/x")?.type == .url)
      #expect(index.matchURL("https://cdn-\(number).example/p/\(number)0") == nil)
      #expect(index.matchHash(Self.hash(number).uppercased())?.type == .hash)
    }
    #expect(index.matchTool("evil_tool_1250") == nil)
    #expect(index.matchTool("exfil1250_x") == nil)
    #expect(index.matchHost("bad-1250.example") == nil)
    #expect(index.matchHost("172.17.0.1") == nil)
    #expect(index.matchHost("2001:db8:5000::1") == nil)
    #expect(index.matchHash(Self.hash(1_250)) == nil)
  }

  static func hash(_ number: Int) -> String {
    let hex = String(number, radix: 16)
    return String(repeating: "0", count: 64 - hex.count) + hex
  }
}
