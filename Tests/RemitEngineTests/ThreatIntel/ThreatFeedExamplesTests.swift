import Foundation
import Testing

@testable import RemitEngine

/// The example feeds in `examples/` parse, and hold only documentation names and addresses.
@Suite struct ThreatFeedExamplesTests {
  static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("examples")

  @Test(arguments: [("threat-feed.csv", ThreatFeedFormat.csv), ("threat-feed.jsonl", .jsonLines)])
  func exampleFeedsParse(_ name: String, _ format: ThreatFeedFormat) throws {
    let bytes = try [UInt8](Data(contentsOf: Self.examples.appendingPathComponent(name)))
    let indicators = try ThreatFeed.parse(bytes, format: format, defaultSource: "examples")
    #expect(indicators.count >= 10)
    #expect(Set(indicators.map(\.type)) == Set(IndicatorType.allCases))
    let index = ThreatIndex(indicators)
    #expect(index.count == indicators.count)
    #expect(index.matchTool("exfiltrate_secrets")?.severity == .critical)
    #expect(index.matchHost("api.evil.example") != nil)
    #expect(index.matchHost("203.0.113.7") != nil)
    #expect(index.matchURL("https://downloads.example.com/payloads/run.sh")?.type == .url)
    for indicator in indicators where indicator.type == .ip || indicator.type == .cidr {
      #expect(Self.isDocumentationAddress(indicator.value), "\(indicator.value)")
    }
    for indicator in indicators where indicator.type == .domain {
      #expect(Self.isExampleName(indicator.value), "\(indicator.value)")
    }
  }

  static func isDocumentationAddress(_ value: String) -> Bool {
    ["192.0.2.", "198.51.100.", "203.0.113.", "2001:db8:", "::ffff:192.0.2."].contains { value.hasPrefix($0) }
  }

  static func isExampleName(_ value: String) -> Bool {
    let labels = value.split(separator: ".")
    return labels.contains("example") || value.hasSuffix(".example")
  }
}

@Suite struct PolicyYAMLTests {
  @Test func aPolicyWithImportedIndicatorsRoundTripsThroughYAML() throws {
    let bytes = try [UInt8](
      Data(contentsOf: ThreatFeedExamplesTests.examples.appendingPathComponent("threat-feed.csv")))
    let indicators = try ThreatFeed.parse(bytes, format: .csv, defaultSource: nil)
    let document = PolicyDocument(
      metadata: .init(name: "prod", version: "42"),
      missions: [PolicyDocument.Mission(id: "m", egress: ["yes", "1.5", "*.example.com"])],
      threatIntel: .init(injection: .block, indicators: indicators + [.init(type: .tool, value: "true")])
    )
    let yaml = try document.yamlText()
    #expect(yaml.hasPrefix("apiVersion: remit/v1\n"))
    #expect(try PolicyDocument.decode(Array(yaml.utf8), format: .yaml) == document)
  }
}
