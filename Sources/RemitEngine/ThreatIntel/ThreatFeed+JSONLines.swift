extension ThreatFeed {
  /// One JSON object per line, parsed with the bounded `JSONTape`.
  enum JSONLinesReader {
    static let keys: Set<String> = ["type", "value", "severity", "source"]
    static let limits = JSONTape.Limits(maximumDepth: 2, maximumNodes: 32)

    static func read(_ bytes: [UInt8], into builder: inout Builder) throws(ThreatFeedError) {
      var start = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
      var line = 0
      while start < bytes.count {
        line += 1
        let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
        defer { start = end + 1 }
        var content = bytes[start..<end]
        while let last = content.last, last == 0x0D || last == 0x20 || last == 0x09 { content = content.dropLast() }
        while let first = content.first, first == 0x20 || first == 0x09 { content = content.dropFirst() }
        if content.isEmpty || content.first == UInt8(ascii: "#") { continue }
        guard content.count <= ThreatFeed.maximumFieldBytes else {
          throw ThreatFeedError(
            code: "feed_malformed", line: line, message: "line is longer than \(ThreatFeed.maximumFieldBytes) bytes")
        }
        try readObject(Array(content), line: line, into: &builder)
      }
    }

    private static func readObject(_ bytes: [UInt8], line: Int, into builder: inout Builder) throws(ThreatFeedError) {
      let tape: JSONTape
      do {
        tape = try JSONTape(parsing: bytes, limits: limits)
      } catch {
        throw ThreatFeedError(
          code: "feed_malformed", line: line,
          message: "not a JSON object: \(error.reason) at column \(error.offset + 1)")
      }
      guard tape[tape.root].kind == .object else {
        throw ThreatFeedError(
          code: "feed_malformed", line: line, message: "must be a JSON object with type, value, severity and source")
      }
      var fields: [String: String] = [:]
      var children = tape.children(of: tape.root).makeIterator()
      while let keyIndex = children.next(), let valueIndex = children.next() {
        let key = tape.string(keyIndex)
        guard keys.contains(key) else {
          throw ThreatFeedError(
            code: "feed_malformed", line: line,
            message: "unknown field \"\(key.policyErrorExcerpt)\"; a line has type, value, severity and source")
        }
        switch tape[valueIndex].kind {
        case .string:
          fields[key] = tape.string(valueIndex)
        case .null where key == "severity" || key == "source":
          continue
        default:
          throw ThreatFeedError(code: "feed_malformed", line: line, message: "\"\(key)\" must be a string")
        }
      }
      guard let type = fields["type"], let value = fields["value"] else {
        throw ThreatFeedError(
          code: "feed_malformed", line: line, message: "\"\(fields["type"] == nil ? "type" : "value")\" is required")
      }
      try builder.add(type: type, value: value, severity: fields["severity"], source: fields["source"], line: line)
    }
  }
}
