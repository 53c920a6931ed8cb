import Foundation
import Logging
import Synchronization
import Testing

@testable import RemitAuthorizer

/// The log line itself: one JSON object, `time` in RFC 3339 UTC with milliseconds, fields sorted,
/// the handler's metadata under the event's, JSON types kept.
@Suite struct JSONLogHandlerTests {
  static func line(handlerMetadata: Logger.Metadata = [:], _ metadata: Logger.Metadata) throws -> (
    String, [String: Any]
  ) {
    let lines = Mutex<[String]>([])
    var handler = JSONLogHandler(label: "test", sink: LogSink { line in lines.withLock { $0.append(line) } })
    handler.metadata = handlerMetadata
    let logger = Logger(label: "test") { _ in handler }
    logger.info("ext_authz decision", metadata: metadata)
    let written = try #require(lines.withLock { $0 }.first)
    #expect(written.hasSuffix("}\n") && written.filter { $0 == "\n" }.count == 1)
    let object = try #require(try JSONSerialization.jsonObject(with: Data(written.utf8)) as? [String: Any])
    return (written, object)
  }

  @Test func writesTimeLevelMessageAndSortedTypedFields() throws {
    let before = Date()
    let (text, object) = try Self.line([
      "verdict": "allow", "latency_us": .stringConvertible(42), "reason": .stringConvertible(JSONNull()),
      "findings": .array(["a", "b"]), "aibom": .dictionary(["risk": "low", "publisher": "acme"]),
      "dry": .stringConvertible(true),
    ])
    #expect(object["level"] as? String == "info")
    #expect(object["message"] as? String == "ext_authz decision")
    #expect(object["latency_us"] as? Int == 42)
    #expect(object["reason"] is NSNull)
    #expect(object["dry"] as? Bool == true)
    #expect(object["findings"] as? [String] == ["a", "b"])
    #expect(text.contains(#""aibom":{"publisher":"acme","risk":"low"},"dry":true,"findings""#))
    #expect(text.contains(#""latency_us":42,"reason":null,"verdict":"allow"}"#))
    let time = try #require(object["time"] as? String)
    #expect(time.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/) != nil, "\(time)")
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    let parsed = try #require(formatter.date(from: time))
    #expect(abs(parsed.timeIntervalSince(before)) < 5)
  }

  @Test func theEventsMetadataWinsOverTheHandlersAndReservedKeysStay() throws {
    let (_, object) = try Self.line(
      handlerMetadata: ["service": "remit", "verdict": "stale"], ["verdict": "deny", "time": "forged", "message": "x"])
    #expect(object["service"] as? String == "remit")
    #expect(object["verdict"] as? String == "deny")
    #expect(object["message"] as? String == "ext_authz decision")
    #expect((object["time"] as? String)?.hasSuffix("Z") == true)
  }
}
