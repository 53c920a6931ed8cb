import Testing

@testable import RemitEngine

@Suite struct IndicatorRulesTests {
  typealias Indicator = PolicyDocument.Indicator

  @Test(arguments: [
    (IndicatorType.tool, "exfiltrate_*"), (.tool, "get_stock"), (.tool, "a*b*c"),
    (.domain, "evil.example"), (.domain, "*.evil.example"), (.domain, "Evil.Example."),
    (.domain, "under_score.example"),
    (.domain, "xn--bcher-kva.example"), (.domain, "localhost"),
    (.ip, "203.0.113.7"), (.ip, "2001:db8::1"), (.ip, "::ffff:192.0.2.1"),
    (.cidr, "198.51.100.0/24"), (.cidr, "203.0.113.7/32"), (.cidr, "2001:db8::/32"), (.cidr, "2001:db8::1/128"),
    (.url, "https://malware.example/payload"), (.url, "http://malware.example"),
    (.url, "HTTPS://Malware.Example:8443/a/b/"),
    (.url, "http://192.0.2.1/x"), (.url, "http://[2001:db8::1]:8080/x"),
    (.hash, String(repeating: "a", count: 32)), (.hash, String(repeating: "F", count: 40)),
    (.hash, String(repeating: "0", count: 64)), (.hash, String(repeating: "9", count: 128)),
  ])
  func validIndicators(_ type: IndicatorType, _ value: String) {
    #expect(PolicyRules.indicatorProblem(Indicator(type: type, value: value)) == nil)
  }

  @Test(arguments: [
    (IndicatorType.tool, "", "tool must not be empty"),
    (.tool, "**", "would match every tool"),
    (.tool, "bad\u{7}tool", "control characters"),
    (.tool, String(repeating: "t", count: 513), "at most 512"),
    (.domain, "", "must not be empty"),
    (.domain, "bad..example", "empty label"),
    (.domain, ".example", "empty label"),
    (.domain, "-bad.example", "must not start with '-'"),
    (.domain, "bad-.example", "must not end with '-'"),
    (.domain, "ba d.example", "letters, digits"),
    (.domain, "evil.*.example", "leading *."),
    (.domain, "*", "leading *."),
    (.domain, "bücher.example", "punycode"),
    (.domain, "203.0.113.7", "use type ip"),
    (.domain, String(repeating: "a", count: 64) + ".example", "at most 63"),
    (.ip, "203.0.113.256", "IPv4 or IPv6 address"),
    (.ip, "198.51.100.0/24", "use type cidr"),
    (.ip, "evil.example", "IPv4 or IPv6 address"),
    (.cidr, "198.51.100.0", "address/prefix"),
    (.cidr, "198.51.100.0/33", "prefix <= 32 for IPv4"),
    (.cidr, "2001:db8::/129", "prefix <= 128 for IPv6"),
    (.cidr, "198.51.100.0/-1", "prefix <= 32"),
    (.cidr, "198.51.100.0/", "prefix <= 32"),
    (.cidr, "0.0.0.0/0", "every address"),
    (.cidr, "198.51.100.7/24", "the network is 198.51.100.0/24"),
    (.cidr, "2001:db8::1/32", "the network is 2001:db8::/32"),
    (.url, "malware.example/payload", "absolute URL"),
    (.url, "https:/malware.example", "absolute URL"),
    (.url, "https://", "host is missing"),
    (.url, "https://malware.example:0/", "port must be 1 to 65535"),
    (.url, "https://malware.example:99999/", "port must be 1 to 65535"),
    (.url, "https://malware.example:/", "port must be 1 to 65535"),
    (.url, "https://bad..example/", "host must not have an empty label"),
    (.url, "https://user:pw@malware.example/", "user information"),
    (.url, "https://malware.example/a?b=c", "query or fragment"),
    (.url, "https://malware.example/a#b", "query or fragment"),
    (.url, "https://malware.example/a b", "printable ASCII"),
    (.url, "https://[192.0.2.1]/", "absolute URL"),
    (.url, "1http://x.example/", "absolute URL"),
    (.hash, "abc", "32, 40, 64 or 128 hex digits"),
    (.hash, String(repeating: "g", count: 32), "32, 40, 64 or 128 hex digits"),
    (.hash, String(repeating: "a", count: 33), "32, 40, 64 or 128 hex digits"),
    (.url, "https://x.example/" + String(repeating: "a", count: 2048), "at most 2048"),
  ])
  func invalidIndicators(_ type: IndicatorType, _ value: String, _ expected: String) {
    let problem = PolicyRules.indicatorProblem(Indicator(type: type, value: value))
    #expect(problem?.contains(expected) == true, "\(problem ?? "nil")")
    #expect(problem?.hasPrefix(type.rawValue) == true)
  }

  @Test func sourcesAreBounded() {
    #expect(PolicyRules.indicatorProblem(Indicator(type: .tool, value: "x", source: "feed-x")) == nil)
    #expect(PolicyRules.indicatorProblem(Indicator(type: .tool, value: "x", source: ""))?.contains("source") == true)
    #expect(
      PolicyRules.indicatorProblem(Indicator(type: .tool, value: "x", source: String(repeating: "s", count: 257)))?
        .contains("source") == true)
    #expect(
      PolicyRules.indicatorProblem(Indicator(type: .tool, value: "x", source: "a\nb"))?.contains("source") == true)
  }

  @Test(arguments: [
    (IndicatorType.domain, "Evil.Example.", "evil.example"),
    (.domain, "*.Evil.Example", "*.evil.example"),
    (.ip, "::FFFF:192.0.2.1", "192.0.2.1"),
    (.ip, "2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
    (.cidr, "2001:DB8:0::/32", "2001:db8::/32"),
    (.cidr, "::ffff:198.51.100.0/120", "198.51.100.0/24"),
    (.url, "HTTPS://Malware.Example:443", "https://malware.example/"),
    (.url, "http://Malware.Example:8080/A/b", "http://malware.example:8080/A/b"),
    (.url, "http://[2001:DB8::1]/x", "http://[2001:db8::1]/x"),
    (.hash, "ABCDEF" + String(repeating: "0", count: 26), "abcdef" + String(repeating: "0", count: 26)),
    (.tool, "Exfil_*", "Exfil_*"),
    (.domain, "bad..example", "bad..example"),
  ])
  func valuesNormalise(_ type: IndicatorType, _ value: String, _ expected: String) {
    #expect(IndicatorValue.normalised(type, value) == expected)
  }
}
