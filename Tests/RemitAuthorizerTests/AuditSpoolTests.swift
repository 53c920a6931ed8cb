import Foundation
import RemitEngine
import Testing

@testable import RemitAuthorizer

@Suite struct AuditSpoolTests {
  func temporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("remit-spool-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  @Test func theSpoolRefusesABatchThatWouldExceedItsBound() throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    var spool = AuditSpool(directory: directory, capacityBytes: 100)
    let first = spool.append(Array(repeating: 0x41, count: 60), events: 3)
    let second = spool.append(Array(repeating: 0x42, count: 60), events: 3)
    #expect(first)
    #expect(!second)
    #expect(spool.totalBytes == 60)
    #expect(spool.files.count == 1)
  }

  @Test func aRestartedSpoolPicksUpItsBatchesInOrderAndForgetsHalfWrittenOnes() throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    do {
      var spool = AuditSpool(directory: directory, capacityBytes: 1 << 20)
      let one = spool.append(Array("[1]".utf8), events: 1)
      let two = spool.append(Array("[2,3]".utf8), events: 2)
      #expect(one && two)
    }
    // A crash mid-write leaves a temporary file; it must never be sent.
    FileManager.default.createFile(atPath: directory + "/00000000000000000099-5.json.tmp", contents: Data("[".utf8))
    var spool = AuditSpool(directory: directory, capacityBytes: 1 << 20)
    #expect(spool.files.map(\.events) == [1, 2])
    #expect(spool.totalBytes == 8)
    #expect(!FileManager.default.fileExists(atPath: directory + "/00000000000000000099-5.json.tmp"))
    let oldest = spool.oldest()
    let first = try #require(oldest)
    #expect(first.batch == Array("[1]".utf8))
    spool.remove(first.name)
    // New batches sort after the old ones.
    let four = spool.append(Array("[4]".utf8), events: 1)
    #expect(four)
    let second = spool.oldest()
    #expect(second?.batch == Array("[2,3]".utf8))
    #expect(spool.files.map(\.events) == [2, 1])
  }

  @Test func anUnwritableSpoolRefusesBatchesInsteadOfCrashing() {
    // A directory under a regular file can never be created, whoever runs the test.
    var spool = AuditSpool(directory: "/dev/null/remit-spool", capacityBytes: 1 << 20)
    let appended = spool.append(Array("[1]".utf8), events: 1)
    #expect(!appended)
    #expect(spool.isEmpty)
  }

  @Test func theQueueDropsAndCountsWhatDoesNotFit() {
    let queue = AuditQueue(capacity: 2)
    for index in 0..<5 { queue.append(Decision.sample, id: "d\(index)", time: Date(), latencyMicroseconds: 5) }
    #expect(queue.count == 2)
    #expect(queue.statistics.dropped == 3)
    let taken = queue.take(upTo: 10)
    #expect(taken.map(\.decisionId) == ["d0", "d1"])
    #expect(taken.first?.reason == "scope_tool_denied")
    #expect(queue.count == 0)
  }

  @Test func anAuditEventCarriesTheLogLinesFieldsBoundedAndCamelCase() throws {
    var decision = Decision.sample
    decision.path = "/" + String(repeating: "é", count: 3000)
    decision.findings = (0..<40).map { "dlp_block:credit_card@$.params[\($0)]" }
    let event = AuditEvent(decision, id: "abc", time: Date(timeIntervalSince1970: 0), latencyMicroseconds: 42)
    #expect(try #require(event.path).utf8.count <= AuditEvent.maximumFieldBytes)
    #expect(event.findings.count == AuditEvent.maximumFindings)
    #expect(event.time == "1970-01-01T00:00:00.000Z")
    let json = try #require(
      try JSONSerialization.jsonObject(with: JSONEncoder().encode(event)) as? [String: Any])
    #expect(json["decisionId"] as? String == "abc")
    #expect(json["verdict"] as? String == "deny")
    #expect(json["reason"] as? String == "scope_tool_denied")
    #expect(json["latencyUs"] as? Int == 42)
    #expect(json["sourcePrincipal"] as? String == "spiffe://cluster.local/ns/agents/sa/checkout-bot")
  }
}

extension Decision {
  static var sample: Decision {
    var decision = Decision(sourcePrincipal: "spiffe://cluster.local/ns/agents/sa/checkout-bot")
    decision.reason = .scopeToolDenied
    decision.agent = "checkout-bot"
    decision.tool = "delete_everything"
    return decision
  }
}
