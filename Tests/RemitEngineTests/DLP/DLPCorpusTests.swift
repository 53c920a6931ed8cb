import Foundation
import Testing

@testable import RemitEngine

/// Precision and recall of every built-in detector over the generated, labelled corpus
/// (scripts/generate-dlp-corpus.py). The corpus holds true positives for each detector and near
/// misses (checksums that fail, invalid ranges, placeholders, look-alike identifiers).
@Suite struct DLPCorpusTests {
  struct Row {
    var line: Int
    var text: String
    var expected: Set<String>
    var note: String
  }

  static func loadCorpus() throws -> [Row] {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .appendingPathComponent("Corpus/dlp-corpus.jsonl")
    let content = try String(contentsOf: url, encoding: .utf8)
    var rows: [Row] = []
    for (index, line) in content.split(separator: "\n").enumerated() {
      let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
      let text = try #require(object?["text"] as? String)
      let expected = try #require(object?["expect"] as? [String])
      rows.append(Row(line: index + 1, text: text, expected: Set(expected), note: object?["note"] as? String ?? ""))
    }
    return rows
  }

  @Test func everyDetectorHasFullPrecisionAndRecallOnTheCorpus() throws {
    let rows = try Self.loadCorpus()
    #expect(rows.count >= 200)
    let scanner = DLPScanner(builtins: Set(DLPDetector.allCases), custom: [])
    var truePositives: [String: Int] = [:]
    var falsePositives: [String: Int] = [:]
    var falseNegatives: [String: Int] = [:]
    var failures: [String] = []
    for row in rows {
      let found = Set(scanner.scan(Array(row.text.utf8)).map(\.detector))
      for detector in found.union(row.expected) {
        switch (found.contains(detector), row.expected.contains(detector)) {
        case (true, true): truePositives[detector, default: 0] += 1
        case (true, false): falsePositives[detector, default: 0] += 1
        case (false, true): falseNegatives[detector, default: 0] += 1
        case (false, false): break
        }
      }
      if found != row.expected {
        failures.append("line \(row.line) (\(row.note)): expected \(row.expected.sorted()), found \(found.sorted())")
      }
    }
    var table = "detector         TP  FP  FN  precision  recall\n"
    for detector in DLPDetector.allCases.map(\.rawValue) {
      let tp = truePositives[detector, default: 0]
      let fp = falsePositives[detector, default: 0]
      let fn = falseNegatives[detector, default: 0]
      let precision = tp + fp == 0 ? 1 : Double(tp) / Double(tp + fp)
      let recall = tp + fn == 0 ? 1 : Double(tp) / Double(tp + fn)
      table += detector.padding(toLength: 16, withPad: " ", startingAt: 0)
      table += String(format: " %3d %3d %3d %9.1f%% %6.1f%%\n", tp, fp, fn, precision * 100, recall * 100)
      #expect(tp > 0, "the corpus has no true positive for \(detector)")
    }
    print(table)
    #expect(failures.isEmpty, Comment(rawValue: failures.joined(separator: "\n")))
  }

  /// Near misses must be near: each negative row would be found if the detector were careless, so
  /// make sure the corpus keeps plenty of them.
  @Test func theCorpusHasNearMissesAndCleanText() throws {
    let rows = try Self.loadCorpus()
    let negatives = rows.filter { $0.expected.isEmpty }
    #expect(negatives.count >= 80)
  }
}
