import Testing

@testable import RemitEngine

@Suite struct ThreatFeedTests {
  typealias Indicator = PolicyDocument.Indicator

  func parse(_ text: String, _ format: ThreatFeedFormat, source: String? = nil) throws(ThreatFeedError) -> [Indicator] {
    try ThreatFeed.parse(Array(text.utf8), format: format, defaultSource: source)
  }

  func error(_ text: String, _ format: ThreatFeedFormat, maximumBytes: Int = 1 << 20, maximumIndicators: Int = 100)
    -> ThreatFeedError?
  {
    do {
      _ = try ThreatFeed.parse(
        Array(text.utf8), format: format, defaultSource: nil, maximumBytes: maximumBytes,
        maximumIndicators: maximumIndicators)
      return nil
    } catch {
      return error
    }
  }

  @Test func csvWithHeaderQuotesCommentsAndDefaults() throws {
    let feed = [
      "\u{FEFF}type,value,severity,source",
      "# a comment line",
      "",
      "domain,Evil.Example,critical,feed-x",
      #"tool,"exfil_*",,"#,
      #"ip,  203.0.113.7  ,LOW,"feed, with comma""#,
      #""tool","say ""hi""",medium,feed-y"# + "\r",
      "hash,D41D8CD98F00B204E9800998ECF8427E",
    ].joined(separator: "\n")
    let indicators = try parse(feed, .csv, source: "import-1")
    #expect(
      indicators == [
        Indicator(type: .domain, value: "evil.example", severity: .critical, source: "feed-x"),
        Indicator(type: .tool, value: "exfil_*", severity: nil, source: "import-1"),
        Indicator(type: .ip, value: "203.0.113.7", severity: .low, source: "feed, with comma"),
        Indicator(type: .tool, value: "say \"hi\"", severity: .medium, source: "feed-y"),
        Indicator(type: .hash, value: "d41d8cd98f00b204e9800998ecf8427e", severity: nil, source: "import-1"),
      ])
  }

  @Test func csvWithoutHeaderAndWithShortHeader() throws {
    #expect(
      try parse("cidr,198.51.100.0/24\nurl,HTTPS://X.Example:443\n", .csv).map(\.value) == [
        "198.51.100.0/24", "https://x.example/",
      ])
    #expect(try parse("Type,Value\ndomain,a.example", .csv).map(\.value) == ["a.example"])
  }

  @Test func csvErrorsCarryTheLineNumber() {
    let feed = "type,value\ntool,\"quoted\"\n\n# comment\ndomain,bad..example\n"
    let failure = error(feed, .csv)
    #expect(failure?.code == "indicator_invalid")
    #expect(failure?.line == 5)
    #expect(failure?.message.contains("empty label") == true)
    #expect(failure?.message.contains("bad..example") == true)

    #expect(error("domain,a.example\nfile,x\n", .csv).map { ($0.code, $0.line) } ?? ("", 0) == ("indicator_invalid", 2))
    #expect(error("domain,a.example\nfile,x\n", .csv)?.message.contains("expected one of: tool, domain") == true)
    #expect(error("domain\n", .csv)?.code == "feed_malformed")
    #expect(error("domain,a.example,high,src,extra\n", .csv)?.message.contains("more than 4 columns") == true)
    #expect(error("domain,a.example,urgent\n", .csv)?.message.contains("unknown severity") == true)
    #expect(
      error("domain,a.example\ndomain,\"open\n", .csv).map { ($0.code, $0.line) } ?? ("", 0) == ("feed_malformed", 2))
    #expect(error("domain,a\"b\n", .csv)?.code == "feed_malformed")
    #expect(error("domain,\"a.example\"x\n", .csv)?.code == "feed_malformed")
    #expect(
      error("type,severity\ndomain,a.example\n", .csv).map { ($0.code, $0.line) } ?? ("", 0) == ("feed_malformed", 1))
    // A quoted field spanning lines is reported at the line where its record starts.
    let multiline = error("tool,ok\ntool,\"multi\nline\"\ntool,\"\"\"\n", .csv)
    #expect(multiline.map { ($0.line, $0.message.contains("control characters")) } ?? (0, false) == (2, true))
    #expect(error("tool,\n", .csv)?.message == "value is missing")
    #expect(error("tool,x,,\(String(repeating: "s", count: 300))\n", .csv)?.message.contains("source") == true)
  }

  @Test func invalidUTF8IsRefused() {
    let bytes: [UInt8] = Array("tool,".utf8) + [0xFF, 0xFE] + [0x0A]
    #expect(throws: ThreatFeedError.self) { try ThreatFeed.parse(bytes, format: .csv, defaultSource: nil) }
  }

  @Test func jsonLines() throws {
    let feed = [
      #"{"type":"domain","value":"Evil.Example","severity":"critical","source":"feed-x"}"#,
      "",
      "# comment",
      #"  {"type": "tool", "value": "exfil_\u002A", "severity": null}"# + "\r",
      #"{"value":"203.0.113.7","type":"IP"}"#,
    ].joined(separator: "\n")
    #expect(
      try parse(feed, .jsonLines, source: "default")
        == [
          Indicator(type: .domain, value: "evil.example", severity: .critical, source: "feed-x"),
          Indicator(type: .tool, value: "exfil_*", severity: nil, source: "default"),
          Indicator(type: .ip, value: "203.0.113.7", severity: nil, source: "default"),
        ])
  }

  @Test func jsonLinesErrorsCarryTheLineNumber() {
    func failure(_ text: String) -> (String, Int, String)? {
      error(text, .jsonLines).map { ($0.code, $0.line, $0.message) }
    }
    let good = #"{"type":"domain","value":"a.example"}"#
    #expect(failure("\(good)\n{\"type\":\"domain\"")?.1 == 2)
    #expect(failure("\(good)\n{\"type\":\"domain\"")?.0 == "feed_malformed")
    #expect(failure("\(good)\n\n[1]")?.1 == 3)
    #expect(failure(#"{"type":"domain","value":"a.example","extra":1}"#)?.2.contains("unknown field \"extra\"") == true)
    #expect(failure(#"{"type":"domain","value":7}"#)?.2 == "\"value\" must be a string")
    #expect(failure(#"{"type":"domain"}"#)?.2 == "\"value\" is required")
    #expect(failure(#"{"type":"domain","value":"a.example","value":"b.example"}"#)?.0 == "feed_malformed")
    #expect(failure("\(good)\n\(good)\n{\"type\":\"cidr\",\"value\":\"10.0.0.1/8\"}")?.1 == 3)
    #expect(failure("\(good)\n\(good)\n{\"type\":\"cidr\",\"value\":\"10.0.0.1/8\"}")?.0 == "indicator_invalid")
    #expect(failure(#"{"type":"domain","value":{"nested":[[1]]}}"#)?.0 == "feed_malformed")
  }

  @Test func feedsAreBounded() {
    let line = "domain,a.example\n"
    #expect(error(String(repeating: line, count: 10), .csv, maximumBytes: 100)?.code == "feed_too_large")
    let tooMany = error(String(repeating: line, count: 4), .csv, maximumIndicators: 3)
    #expect(tooMany?.code == "feed_too_many_indicators")
    #expect(tooMany?.line == 4)
    #expect(
      error(String(repeating: #"{"type":"tool","value":"x"}"# + "\n", count: 4), .jsonLines, maximumIndicators: 3)?.code
        == "feed_too_many_indicators")
    #expect(error("tool,\(String(repeating: "x", count: 9000))\n", .csv)?.message.contains("longer than") == true)
    #expect(error("tool,\"\(String(repeating: "x", count: 9000))\"\n", .csv)?.message.contains("longer than") == true)
    #expect(throws: ThreatFeedError.self) {
      try ThreatFeed.parse(Array(line.utf8), format: .csv, defaultSource: "")
    }
  }

  @Test func formatsFromFileNames() {
    #expect(ThreatFeedFormat(fileName: "feed.CSV") == .csv)
    #expect(ThreatFeedFormat(fileName: "feed.jsonl") == .jsonLines)
    #expect(ThreatFeedFormat(fileName: "feed.ndjson") == .jsonLines)
    #expect(ThreatFeedFormat(fileName: "feed.txt") == nil)
    #expect(ThreatFeedFormat(rawValue: "jsonl") == .jsonLines)
  }

  @Test func mergeDedupesByNormalisedValueAndUpdates() {
    let existing = [
      Indicator(type: .domain, value: "Evil.Example", severity: .low, source: "old"),
      Indicator(type: .ip, value: "203.0.113.7"),
      Indicator(type: .tool, value: "exfil_*", severity: .high),
    ]
    let new = [
      Indicator(type: .domain, value: "evil.example.", severity: .critical, source: "feed-x"),  // updated
      Indicator(type: .ip, value: "::ffff:203.0.113.7"),  // same, nothing new: unchanged
      Indicator(type: .tool, value: "exfil_*", severity: .high),  // unchanged
      Indicator(type: .tool, value: "Exfil_*"),  // tools are case-sensitive: added
      Indicator(type: .domain, value: "203.0.113.7"),  // another type: added
      Indicator(type: .domain, value: "new.example"),  // added
      Indicator(type: .domain, value: "NEW.example", severity: .low),  // same as the line before
    ]
    let merged = ThreatFeed.merge(new, into: existing)
    #expect(merged.added == 3)
    #expect(merged.updated == 1)
    #expect(
      merged.indicators == [
        Indicator(type: .domain, value: "Evil.Example", severity: .critical, source: "feed-x"),
        Indicator(type: .ip, value: "203.0.113.7"),
        Indicator(type: .tool, value: "exfil_*", severity: .high),
        Indicator(type: .tool, value: "Exfil_*"),
        Indicator(type: .domain, value: "203.0.113.7"),
        Indicator(type: .domain, value: "new.example", severity: .low),
      ])
    // Importing the result again changes nothing.
    let again = ThreatFeed.merge(merged.indicators, into: merged.indicators)
    #expect(again.added == 0 && again.updated == 0 && again.indicators == merged.indicators)
  }

  @Test func importedIndicatorsFeedTheIndex() throws {
    let indicators = try parse("domain,Evil.Example\ncidr,198.51.100.0/24,critical\n", .csv, source: "feed-x")
    let index = ThreatIndex(ThreatFeed.merge(indicators, into: []).indicators)
    #expect(
      index.matchHost("a.evil.example") == ThreatMatch(type: .domain, indicator: "evil.example", source: "feed-x"))
    #expect(index.matchHost("198.51.100.9")?.severity == .critical)
  }
}
