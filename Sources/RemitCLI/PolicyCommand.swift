import ArgumentParser
import Foundation
import RemitEngine

struct PolicyCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "policy",
    abstract: "Work with policy documents.",
    subcommands: [ValidateCommand.self]
  )

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
