import ArgumentParser
import Foundation

@testable import RemitCLI

/// Runs `remit` command lines in process, as the executable would.
enum CLIHarness {
  static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  /// Runs a command line and returns its exit code.
  static func exitCode(_ arguments: [String]) async -> Int32 {
    do {
      var command = try Remit.parseAsRoot(arguments)
      if var asyncCommand = command as? any AsyncParsableCommand {
        try await asyncCommand.run()
      } else {
        try command.run()
      }
      return 0
    } catch let exit as ExitCode {
      return exit.rawValue
    } catch {
      return Remit.exitCode(for: error).rawValue
    }
  }
}
