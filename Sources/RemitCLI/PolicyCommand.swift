import ArgumentParser
import Foundation
import RemitEngine

struct PolicyCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "policy",
    abstract: "Work with policy documents.",
    subcommands: [ValidateCommand.self, ExportCommand.self, ApplyCommand.self]
  )

  struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "export",
      abstract: "Print a tenant's policy document from the control plane (YAML by default), e.g. to keep it in git.",
      discussion: "Needs an API key with the reader or admin role; the key's tenant is exported."
    )

    @OptionGroup var controlPlane: ControlPlaneOptions

    @Option(name: .long, help: "yaml or json.")
    var format: String = "yaml"

    @Option(name: [.short, .long], help: "Write to this file instead of standard output.")
    var output: String?

    func run() async throws {
      guard format == "yaml" || format == "json" else { throw ValidationError("--format must be yaml or json") }
      let (status, headers, body) = try await controlPlane.send(.GET, "/v1/policy")
      guard status == 200 else {
        printControlPlaneError(status, body)
        throw ExitCode(1)
      }
      var text: String
      if format == "json" {
        text = String(decoding: body, as: UTF8.self)
        if !text.hasSuffix("\n") { text += "\n" }
      } else {
        do {
          text = try PolicyDocument.load(body, format: .json).yamlText()
        } catch {
          printError("remit: the exported document does not validate here: \(error)")
          throw ExitCode(1)
        }
      }
      if let output {
        guard FileManager.default.createFile(atPath: output, contents: Data(text.utf8)) else {
          throw ValidationError("cannot write \(output)")
        }
        let version = headers.first(name: "Remit-Policy-Version") ?? "?"
        print("exported policy version \(version) to \(output)")
      } else {
        print(text, terminator: "")
      }
    }
  }

  struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "apply",
      abstract: "Replace a tenant's whole policy in the control plane with a document (YAML or JSON).",
      discussion: """
        Agents, missions and every policy section are replaced in one transaction and the policy \
        version goes up by one; metadata.version in the file is ignored. With --dry-run the control \
        plane only validates. Problems are printed with their field; the exit code is then 1. \
        Needs an API key with the admin role.
        """
    )

    @OptionGroup var controlPlane: ControlPlaneOptions

    @Argument(help: "Policy document, YAML or JSON.")
    var file: String

    @Flag(name: .customLong("dry-run"), help: "Validate on the control plane without changing anything.")
    var dryRun = false

    func run() async throws {
      let bytes = try readInput(file)
      // Validate locally first: the same rules, and no round trip for a typo.
      let document: PolicyDocument
      do {
        document = try PolicyDocument.load(bytes, format: .detect(fileName: file, bytes: bytes))
      } catch {
        for line in error.lines { printError("\(file): \(line)") }
        throw ExitCode(1)
      }
      let json: [UInt8]
      do {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        json = Array(try encoder.encode(document))
      } catch {
        printError("remit: cannot encode \(file): \(error)")
        throw ExitCode(1)
      }
      let (status, _, body) = try await controlPlane.send(
        .PUT, "/v1/policy" + (dryRun ? "?dryRun=true" : ""), body: json)
      guard status == 200 else {
        printControlPlaneError(status, body)
        throw ExitCode(1)
      }
      struct Applied: Decodable { var version: Int64 }
      let version = (try? JSONDecoder().decode(Applied.self, from: Data(body)))?.version
      if dryRun {
        print("\(file): valid on the control plane (nothing changed)")
      } else {
        print("\(file): applied; policy version \(version.map(String.init) ?? "?")")
      }
    }
  }

  struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "validate",
      abstract: "Check a policy file. Prints every problem with its path; exits 1 if there are any."
    )

    @Argument(help: "Policy file, YAML or JSON.")
    var file: String

    func run() async throws {
      let bytes = try readInput(file)
      do {
        let document = try PolicyDocument.load(bytes, format: .detect(fileName: file, bytes: bytes))
        print(
          "\(file): valid (\(document.agents?.count ?? 0) agents, \(document.missions?.count ?? 0) missions)"
        )
      } catch {
        for line in error.lines { print("\(file): \(line)") }
        throw ExitCode(1)
      }
    }
  }
}

/// Policy errors as the lines a person reads.
protocol PolicyErrorDescribable: Error {
  var lines: [String] { get }
}

extension PolicyError: PolicyErrorDescribable {
  var lines: [String] { issues.map { "\($0.description) [\(code)]" } }
}

/// Reads a file given on the command line, bounded, with a clear error.
func readInput(_ path: String, limit: Int = 64 << 20) throws -> [UInt8] {
  guard let handle = FileHandle(forReadingAtPath: path) else {
    printError("cannot read \(path)")
    throw ExitCode(2)
  }
  defer { try? handle.close() }
  let data = try handle.read(upToCount: limit + 1) ?? Data()
  guard data.count <= limit else {
    printError("\(path) is larger than \(limit) bytes")
    throw ExitCode(2)
  }
  return Array(data)
}
