import Testing

@testable import RemitEngine

@Suite struct InjectionCorpusTests {
  let detector = InjectionDetector()

  @Test func everyPositiveIsDetectedByItsOwnHeuristic() {
    var detected: [InjectionHeuristic: Int] = [:]
    var total: [InjectionHeuristic: Int] = [:]
    for (index, (heuristic, text)) in InjectionCorpus.positives.enumerated() {
      total[heuristic, default: 0] += 1
      let alone = InjectionDetector(heuristics: [heuristic]).inspect(text)
      let all = detector.signals(in: text).map(\.heuristic)
      if alone?.heuristic == heuristic && all.contains(heuristic) && detector.inspect(text) != nil {
        detected[heuristic, default: 0] += 1
      } else {
        Issue.record("positive #\(index) (\(heuristic.rawValue)) missed: alone=\(String(describing: alone)) all=\(all)")
      }
    }
    for heuristic in InjectionHeuristic.allCases {
      print(
        "injection corpus: \(heuristic.rawValue) detected \(detected[heuristic, default: 0])/\(total[heuristic, default: 0])"
      )
      #expect(total[heuristic, default: 0] >= 4, "too few positives for \(heuristic.rawValue)")
    }
    let detectedCount = detected.values.reduce(0, +)
    print("injection corpus: positives detected \(detectedCount)/\(InjectionCorpus.positives.count)")
    #expect(detectedCount == InjectionCorpus.positives.count)
  }

  @Test func noBenignStringIsFlagged() {
    var falsePositives = 0
    for (index, text) in InjectionCorpus.benign.enumerated() {
      let signals = detector.signals(in: text)
      if !signals.isEmpty {
        falsePositives += 1
        Issue.record("benign #\(index) flagged \(signals): \(text.prefix(80))")
      }
    }
    print("injection corpus: benign \(InjectionCorpus.benign.count), false positives \(falsePositives)")
    #expect(falsePositives == 0)
  }

  @Test func benignStringsStayCleanInsideLargerTexts() {
    // The same strings joined into one body must not combine into a phrase or a run.
    let joined = InjectionCorpus.benign.joined(separator: "\n\n")
    #expect(detector.signals(in: joined).isEmpty)
  }
}
