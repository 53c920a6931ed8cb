import ArgumentParser
import Foundation
import RemitEngine

struct IntelCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "intel",
    abstract: "Work with threat intel indicators.",
    subcommands: [ImportCommand.self]
  )

  struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "import",
      abstract: "Merge a threat feed (CSV or JSON lines) into a policy's threatIntel.indicators.",
      discussion: """
        Every line of the feed is validated; indicators already in the policy (same type and \
        normalised value) take the feed's severity and source, new ones are appended. The merged \
        policy is validated and written to stdout as YAML, to --output (YAML for .yaml/.yml, JSON \
        for .json) or back to the policy file with --in-place. Rewriting a YAML policy does not \
        keep its comments. A summary goes to stderr. Exit code: 0 written, 2 bad input (with the \
        feed line). Feed format: docs/threat-intel.md.
        """
    )

    @Option(name: .long, help: "Policy file, YAML or JSON.")
    var policy: String

    @Option(name: .long, help: "Threat feed file.")
    var feed: String

    @Option(name: .long, help: "Feed format: csv or jsonl (default: from the feed's file name).")
    var format: String?

    @Option(name: .long, help: "Source recorded for feed lines that do not name one.")
    var source: String?

    @Option(name: .long, help: "Where to write the merged policy: a .yaml, .yml or .json file, or - for stdout.")
    var output: String?

    @Flag(name: .long, help: "Rewrite the policy file in its own format (YAML comments are not preserved).")
    var inPlace = false

    func validate() throws {
      if inPlace && output != nil { throw ValidationError("use either --output or --in-place, not both") }
      if let output, output != "-", Self.outputFormat(output) == nil {
        throw ValidationError("--output must end in .yaml, .yml or .json, or be - for stdout")
      }
      if let format, ThreatFeedFormat(rawValue: format.lowercased()) == nil {
        throw ValidationError("--format must be csv or jsonl")
      }
    }

    func run() async throws {
      let feedFormat = try resolvedFeedFormat()
      let policyBytes = try readInput(policy)
      let policyFormat = PolicyDocument.Format.detect(fileName: policy, bytes: policyBytes)
      var document: PolicyDocument
      do {
        document = try PolicyDocument.decode(policyBytes, format: policyFormat)
      } catch {
        for line in error.lines { printError("\(policy): \(line)") }
        throw ExitCode(2)
      }

      let feedBytes = try readInput(feed, limit: ThreatFeed.defaultMaximumBytes)
      let imported: [PolicyDocument.Indicator]
      do {
        imported = try ThreatFeed.parse(feedBytes, format: feedFormat, defaultSource: source)
      } catch {
        printError(error.line > 0 ? "\(feed):\(error.line): \(error.message) [\(error.code)]" : "\(feed): \(error)")
        throw ExitCode(2)
      }

      let merged = ThreatFeed.merge(imported, into: document.threatIntel?.indicators ?? [])
      var threatIntel = document.threatIntel ?? PolicyDocument.ThreatIntel()
      threatIntel.indicators = merged.indicators
      document.threatIntel = threatIntel
      do {
        try document.validate()
      } catch {
        for line in error.lines { printError("\(policy) with \(feed) merged: \(line)") }
        throw ExitCode(2)
      }

      let destination = inPlace ? policy : (output ?? "-")
      let writeFormat: PolicyDocument.Format =
        inPlace ? policyFormat : (destination == "-" ? .yaml : Self.outputFormat(destination) ?? .yaml)
      let bytes: [UInt8]
      do {
        bytes = writeFormat == .json ? document.jsonBytes(pretty: true) + [0x0A] : Array(try document.yamlText().utf8)
      } catch {
        for line in error.lines { printError(line) }
        throw ExitCode(2)
      }
      if destination == "-" {
        FileHandle.standardOutput.write(Data(bytes))
      } else {
        do {
          try Data(bytes).write(to: URL(fileURLWithPath: destination), options: .atomic)
        } catch {
          printError("cannot write \(destination): \(error.localizedDescription)")
          throw ExitCode(2)
        }
      }
      printError("imported \(imported.count) indicators: \(merged.added) added, \(merged.updated) updated")
    }

    private func resolvedFeedFormat() throws -> ThreatFeedFormat {
      if let format, let parsed = ThreatFeedFormat(rawValue: format.lowercased()) { return parsed }
      guard let detected = ThreatFeedFormat(fileName: feed) else {
        printError("\(feed): cannot tell the feed format from the file name; pass --format csv or --format jsonl")
        throw ExitCode(2)
      }
      return detected
    }

    static func outputFormat(_ path: String) -> PolicyDocument.Format? {
      let lowered = path.lowercased()
      if lowered.hasSuffix(".json") { return .json }
      if lowered.hasSuffix(".yaml") || lowered.hasSuffix(".yml") { return .yaml }
      return nil
    }
  }
}
