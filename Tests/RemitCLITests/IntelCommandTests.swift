import ArgumentParser
import Foundation
import RemitEngine
import Testing

@testable import RemitCLI

@Suite struct IntelCommandTests {
  static let repository = CLIHarness.repository
  static let examples = repository.appendingPathComponent("examples")

  func exitCode(_ arguments: [String]) async -> Int32 { await CLIHarness.exitCode(arguments) }

  /// A scratch directory with a copy of the example policy and the example feeds.
  struct Scratch {
    let directory: URL

    init() throws {
      directory = FileManager.default.temporaryDirectory.appendingPathComponent("intel-\(UUID().uuidString)")
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
      for name in ["policy.yaml", "threat-feed.csv", "threat-feed.jsonl"] {
        try FileManager.default.copyItem(
          at: IntelCommandTests.examples.appendingPathComponent(name), to: directory.appendingPathComponent(name))
      }
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func write(_ name: String, _ text: String) throws {
      try Data(text.utf8).write(to: directory.appendingPathComponent(name))
    }

    func policy(_ name: String) throws -> PolicyDocument {
      let bytes = try [UInt8](Data(contentsOf: directory.appendingPathComponent(name)))
      return try PolicyDocument.decode(bytes, format: .detect(fileName: name, bytes: bytes))
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
  }

  @Test func importMergesFeedsIntoThePolicy() async throws {
    let scratch = try Scratch()
    defer { scratch.remove() }
    let csvCount = try ThreatFeed.parse(
      [UInt8](Data(contentsOf: Self.examples.appendingPathComponent("threat-feed.csv"))), format: .csv,
      defaultSource: nil
    ).count

    // CSV into YAML.
    #expect(
      await exitCode([
        "intel", "import", "--policy", scratch.path("policy.yaml"), "--feed", scratch.path("threat-feed.csv"),
        "--source", "cli-test", "--output", scratch.path("merged.yaml"),
      ]) == 0)
    let merged = try scratch.policy("merged.yaml")
    let indicators = merged.threatIntel?.indicators ?? []
    // The feed and the policy's own indicators, deduplicated by type and normalised value.
    let existing = try scratch.policy("policy.yaml").threatIntel?.indicators ?? []
    let feed = try ThreatFeed.parse(
      [UInt8](Data(contentsOf: Self.examples.appendingPathComponent("threat-feed.csv"))), format: .csv,
      defaultSource: "cli-test")
    #expect(indicators.count == ThreatFeed.merge(feed, into: existing).indicators.count)
    #expect(indicators.count > existing.count && indicators.count <= existing.count + csvCount)
    #expect(
      indicators.contains(
        .init(type: .domain, value: "phishing.example.org", severity: .medium, source: "example-feed")))
    #expect(indicators.contains(.init(type: .domain, value: "tracker.example.com", source: "cli-test")))
    #expect(try merged.validate() == ())

    // JSON lines on top, written as JSON: overlapping indicators are updated, not duplicated.
    #expect(
      await exitCode([
        "intel", "import", "--policy", scratch.path("merged.yaml"), "--feed", scratch.path("threat-feed.jsonl"),
        "--output", scratch.path("merged.json"),
      ]) == 0)
    let both = try scratch.policy("merged.json").threatIntel?.indicators ?? []
    #expect(both.filter { $0.type == .domain && $0.value == "evil.example" }.count == 1)
    #expect(both.contains(.init(type: .ip, value: "192.0.2.66", severity: .low, source: "example-feed")))
    #expect(both.contains(.init(type: .domain, value: "*.c2.example.net", severity: .critical, source: "example-feed")))

    // In place, twice: the second import changes nothing.
    #expect(
      await exitCode([
        "intel", "import", "--policy", scratch.path("merged.json"), "--feed", scratch.path("threat-feed.csv"),
        "--in-place",
      ]) == 0)
    #expect(try scratch.policy("merged.json").threatIntel?.indicators == both)
    let text = try String(contentsOfFile: scratch.path("merged.json"), encoding: .utf8)
    #expect(text.hasPrefix("{"))
  }

  @Test func aBadFeedLineExitsTwoAndWritesNothing() async throws {
    let scratch = try Scratch()
    defer { scratch.remove() }
    try scratch.write("bad.csv", "type,value\ndomain,evil.example\ndomain,bad..example\n")
    try scratch.write("bad.jsonl", "{\"type\":\"ip\",\"value\":\"203.0.113.7\"}\n{\"type\":\"ip\"\n")
    try scratch.write("feed.txt", "domain,evil.example\n")
    let output = scratch.path("out.yaml")
    for feed in ["bad.csv", "bad.jsonl", "feed.txt", "missing.csv"] {
      #expect(
        await exitCode([
          "intel", "import", "--policy", scratch.path("policy.yaml"), "--feed", scratch.path(feed), "--output", output,
        ]) == 2, "\(feed)")
    }
    #expect(!FileManager.default.fileExists(atPath: output))
    // An explicit format reads a file whatever its name.
    #expect(
      await exitCode([
        "intel", "import", "--policy", scratch.path("policy.yaml"), "--feed", scratch.path("feed.txt"),
        "--format", "jsonl", "--output", output,
      ]) == 2)
  }

  @Test func aBadPolicyOrSourceExitsTwo() async throws {
    let scratch = try Scratch()
    defer { scratch.remove() }
    try scratch.write("unknown-field.yaml", "apiVersion: remit/v1\nkind: Policy\nsurprise: 1\n")
    #expect(
      await exitCode([
        "intel", "import", "--policy", scratch.path("unknown-field.yaml"), "--feed", scratch.path("threat-feed.csv"),
      ]) == 2)
    #expect(
      await exitCode([
        "intel", "import", "--policy", scratch.path("policy.yaml"), "--feed", scratch.path("threat-feed.csv"),
        "--source", "", "--output", scratch.path("out.yaml"),
      ]) == 2)
  }

  @Test func conflictingOptionsAreUsageErrors() async throws {
    let base = ["intel", "import", "--policy", "p.yaml", "--feed", "f.csv"]
    for extra in [["--in-place", "--output", "x.yaml"], ["--output", "x.txt"], ["--format", "xml"]] {
      #expect(throws: (any Error).self) { try Remit.parseAsRoot(base + extra) }
    }
    #expect(throws: Never.self) { try Remit.parseAsRoot(base + ["--output", "-", "--format", "CSV"]) }
  }
}
