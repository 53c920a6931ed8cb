extension ThreatFeed {
  /// RFC 4180 CSV with the columns `type,value,severity,source`. Hand-written and bounded:
  /// at most 4 fields of at most `maximumFieldBytes` each per record.
  enum CSVReader {
    static let columns = ["type", "value", "severity", "source"]

    static func read(_ bytes: [UInt8], into builder: inout Builder) throws(ThreatFeedError) {
      var reader = Cursor(bytes: bytes)
      // A UTF-8 byte order mark, as spreadsheet exports write.
      if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { reader.index = 3 }
      var isFirstRecord = true
      while reader.index < bytes.count {
        let line = reader.line
        if reader.skipBlankOrComment() { continue }
        let fields = try reader.record()
        defer { isFirstRecord = false }
        if isFirstRecord, fields.first?.lowercased() == "type" {
          guard fields.map({ $0.lowercased() }) == Array(columns.prefix(fields.count)), fields.count >= 2 else {
            throw ThreatFeedError(
              code: "feed_malformed", line: line,
              message: "header must name the columns type,value,severity,source in that order (the last two optional)")
          }
          continue
        }
        guard fields.count >= 2 else {
          throw ThreatFeedError(
            code: "feed_malformed", line: line,
            message: "record needs at least type and value (type,value,severity,source)")
        }
        try builder.add(
          type: fields[0],
          value: fields[1],
          severity: fields.count > 2 ? fields[2] : nil,
          source: fields.count > 3 ? fields[3] : nil,
          line: line
        )
      }
    }

    struct Cursor {
      let bytes: [UInt8]
      var index = 0
      var line = 1

      init(bytes: [UInt8]) { self.bytes = bytes }

      private func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

      /// Consumes a line that is empty, white space or a `#` comment.
      mutating func skipBlankOrComment() -> Bool {
        var position = index
        while position < bytes.count, isSpace(bytes[position]) { position += 1 }
        guard
          position == bytes.count || bytes[position] == 0x0A || bytes[position] == 0x0D
            || bytes[position] == UInt8(ascii: "#")
        else {
          return false
        }
        while position < bytes.count, bytes[position] != 0x0A { position += 1 }
        index = min(position + 1, bytes.count)
        line += 1
        return true
      }

      /// Reads fields up to the end of the record, consuming its line break.
      mutating func record() throws(ThreatFeedError) -> [String] {
        let startLine = line
        var fields: [String] = []
        while true {
          guard fields.count < CSVReader.columns.count else {
            throw ThreatFeedError(
              code: "feed_malformed", line: startLine,
              message: "record has more than 4 columns; expected type,value,severity,source")
          }
          fields.append(try field(recordLine: startLine))
          if index < bytes.count && bytes[index] == UInt8(ascii: ",") {
            index += 1
            continue
          }
          // End of record: CR LF, LF, lone CR or end of input.
          if index < bytes.count && bytes[index] == 0x0D { index += 1 }
          if index < bytes.count && bytes[index] == 0x0A { index += 1 }
          line += 1
          return fields
        }
      }

      private mutating func field(recordLine: Int) throws(ThreatFeedError) -> String {
        while index < bytes.count, isSpace(bytes[index]) { index += 1 }
        if index < bytes.count && bytes[index] == UInt8(ascii: "\"") {
          return try quotedField(recordLine: recordLine)
        }
        let start = index
        while index < bytes.count {
          let byte = bytes[index]
          if byte == UInt8(ascii: ",") || byte == 0x0A || byte == 0x0D { break }
          if byte == UInt8(ascii: "\"") {
            throw ThreatFeedError(
              code: "feed_malformed", line: line, message: "quote inside an unquoted field; quote the whole field")
          }
          index += 1
        }
        var end = index
        while end > start, isSpace(bytes[end - 1]) { end -= 1 }
        try checkLength(end - start)
        return try ThreatFeed.text(bytes[start..<end], line: line)
      }

      private mutating func quotedField(recordLine: Int) throws(ThreatFeedError) -> String {
        index += 1  // opening quote
        var content: [UInt8] = []
        while true {
          guard index < bytes.count else {
            throw ThreatFeedError(
              code: "feed_malformed", line: recordLine, message: "quoted field is not closed")
          }
          let byte = bytes[index]
          index += 1
          if byte == UInt8(ascii: "\"") {
            if index < bytes.count && bytes[index] == UInt8(ascii: "\"") {
              content.append(byte)
              index += 1
              continue
            }
            break
          }
          if byte == 0x0A { line += 1 }
          content.append(byte)
          try checkLength(content.count)
        }
        while index < bytes.count, isSpace(bytes[index]) { index += 1 }
        guard index == bytes.count || bytes[index] == UInt8(ascii: ",") || bytes[index] == 0x0A || bytes[index] == 0x0D
        else {
          throw ThreatFeedError(
            code: "feed_malformed", line: line,
            message: "unexpected text after a closing quote; double a quote inside a quoted field")
        }
        return try ThreatFeed.text(content[...], line: recordLine)
      }

      private func checkLength(_ count: Int) throws(ThreatFeedError) {
        guard count <= ThreatFeed.maximumFieldBytes else {
          throw ThreatFeedError(
            code: "feed_malformed", line: line, message: "field is longer than \(ThreatFeed.maximumFieldBytes) bytes")
        }
      }
    }
  }
}
