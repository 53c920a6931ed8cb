import Foundation
import Testing

@testable import RemitEnvoy

/// Every committed input of `FuzzCheckRequest` (`Fuzz/Corpus/CheckRequest/`) through the hand-written
/// reader and SwiftProtobuf, with the fuzz target's check: whatever SwiftProtobuf accepts the reader
/// accepts too, with the same facts. Makes each input a regression test of `swift test`.
@Suite struct CheckRequestCorpusTests {
  static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fuzz/Corpus/CheckRequest")

  @Test func everyCorpusInputReadsAsSwiftProtobufReadsIt() throws {
    let names = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path).sorted()
    #expect(!names.isEmpty, "no inputs in \(Self.corpus.path)")
    var accepted = 0
    for name in names {
      let bytes = Array(try Data(contentsOf: Self.corpus.appendingPathComponent(name)))
      let read = CheckRequestBytesTests.wire(bytes)
      let reference = CheckRequestBytesTests.reference(bytes)
      guard reference != .rejected else { continue }
      accepted += 1
      #expect(read == reference, "\(name)")
    }
    #expect(accepted > 0, "SwiftProtobuf accepts no input of the corpus: the replay checks nothing")
  }
}
