import ArgumentParser
import Foundation
import RemitEngine

/// `remit scan`: runs the DLP detectors and the injection heuristics over sample text, so a user
/// can see what a policy's content checks would find before turning them on (and so the
/// detectors can be evaluated on external corpora). Prints detector ids and byte offsets, never
/// the matched text.
struct ScanCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "scan",
    abstract: "Run the DLP detectors and injection heuristics over text; print what each input triggers.",
    discussion: """
      Reads JSON lines (each an object with a string "text" member, or a JSON string) or, with \
      --lines, one raw text per line; with --whole, the whole input is one text. Prints one JSON \
      object per input: {"index", "dlp": [{"detector", "offset", "length"}], "injection": \
      {"heuristic", "offset"} or null}. Without --policy every built-in detector is on, and the \
      injection heuristics are on; with --policy, the policy's dlp section decides (and \
      injection only runs when threatIntel.injection is set).
      """
  )

  @Option(help: "Policy file whose dlp and threatIntel.injection settings to use.")
  var policy: String?

  @Option(help: "Input file, or - for standard input.")
  var input: String = "-"

  @Flag(help: "Each line of the input is one raw text.")
  var lines = false

  @Flag(help: "The whole input is one text.")
  var whole = false

  func validate() throws {
    if lines && whole { throw ValidationError("--lines and --whole cannot be used together") }
  }

  func run() async throws {
    var scanner: DLPScanner? = DLPScanner(builtins: Set(DLPDetector.allCases), custom: [])
    var injection = true
    if let policy {
      let bytes = try readInput(policy)
      do {
        let document = try PolicyDocument.load(bytes, format: .detect(fileName: policy, bytes: bytes))
        scanner = DLPScanner.compile(document.dlp).scanner
        injection = document.threatIntel?.injection != nil
      } catch {
        for line in error.lines { printError("\(policy): \(line)") }
        throw ExitCode(2)
      }
    }
    let data = try readScanInput(input)
    let texts: [[UInt8]]
    if whole {
      texts = [data]
    } else {
      let split = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
      let rows = split.last?.isEmpty == true ? split.dropLast() : split[...]
      if lines {
        texts = rows.map { Array($0) }
      } else {
        texts = try rows.enumerated().map { index, row in
          guard let text = Self.text(ofJSONLine: Array(row)) else {
            printError("line \(index + 1): expected a JSON string or an object with a string \"text\" member")
            throw ExitCode(2)
          }
          return text
        }
      }
    }
    let detector = InjectionDetector()
    var output = ""
    for (index, text) in texts.enumerated() {
      let matches = scanner?.scan(text, limit: 256) ?? []
      let signal = injection ? detector.inspect(text) : nil
      let record: [String: Any] = [
        "index": index,
        "dlp": matches.map { ["detector": $0.detector, "offset": $0.offset, "length": $0.length] },
        "injection": signal.map { ["heuristic": $0.heuristic.rawValue, "offset": $0.offset] as [String: Any] }
          ?? NSNull(),
      ]
      let json = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])
      output += String(decoding: json, as: UTF8.self) + "\n"
      if output.utf8.count > 1 << 16 {
        FileHandle.standardOutput.write(Data(output.utf8))
        output = ""
      }
    }
    FileHandle.standardOutput.write(Data(output.utf8))
  }

  /// The text of one JSON line: a JSON string, or an object's string `text` member.
  static func text(ofJSONLine line: [UInt8]) -> [UInt8]? {
    guard let tape = try? JSONTape(parsing: line) else { return nil }
    let root = tape[tape.root]
    if root.kind == .string { return Array(tape.string(tape.root).utf8) }
    guard root.kind == .object, let value = tape.value(forKey: "text", inObject: tape.root), tape[value].kind == .string
    else { return nil }
    return Array(tape.string(value).utf8)
  }
}

func readScanInput(_ path: String, limit: Int = 256 << 20) throws -> [UInt8] {
  guard path == "-" else { return try readInput(path, limit: limit) }
  let data = FileHandle.standardInput.readDataToEndOfFile()
  guard data.count <= limit else {
    printError("standard input is larger than \(limit) bytes")
    throw ExitCode(2)
  }
  return Array(data)
}
