import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A swift-log handler that writes one JSON object per line: `time`, `level`, `message`, then
/// the metadata as top-level fields. Numbers and booleans given as `.stringConvertible` stay JSON
/// numbers and booleans; `JSONNull` writes `null`.
public struct JSONLogHandler: LogHandler {
  public var metadata: Logger.Metadata = [:]
  public var logLevel: Logger.Level = .info
  let label: String
  let sink: LogSink

  public init(label: String, sink: LogSink = .standardOutput) {
    self.label = label
    self.sink = sink
  }

  public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  public func log(event: LogEvent) {
    var line = ""
    line.reserveCapacity(768)  // a decision line is 500 to 700 bytes: one allocation
    line += "{\"time\":\""
    Self.appendTimestamp(to: &line)
    line += "\",\"level\":"
    JSONText.appendString(event.level.rawValue, to: &line)
    line += ",\"message\":"
    JSONText.appendString(event.message.description, to: &line)
    // The handler's own metadata is usually empty: then the event's is used as it is, not copied.
    let merged: Logger.Metadata
    if metadata.isEmpty {
      merged = event.metadata ?? [:]
    } else {
      var combined = metadata
      if let extra = event.metadata { combined.merge(extra) { $1 } }
      merged = combined
    }
    // Sorted, so every line of a kind has its fields in the same order.
    for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
      guard key != "time", key != "level", key != "message" else { continue }
      line += ","
      JSONText.appendString(key, to: &line)
      line += ":"
      Self.append(value, to: &line)
    }
    line += "}\n"
    sink.write(line)
  }

  static func append(_ value: Logger.Metadata.Value, to line: inout String) {
    switch value {
    case .string(let string):
      JSONText.appendString(string, to: &line)
    case .stringConvertible(let convertible):
      switch convertible {
      case is JSONNull: line += "null"
      case let bool as Bool: line += bool ? "true" : "false"
      case let int as Int: line += String(int)
      case let int as UInt64: line += String(int)
      case let double as Double where double.isFinite: line += String(double)
      default: JSONText.appendString(convertible.description, to: &line)
      }
    case .array(let values):
      line += "["
      for (index, element) in values.enumerated() {
        if index > 0 { line += "," }
        append(element, to: &line)
      }
      line += "]"
    case .dictionary(let dictionary):
      line += "{"
      for (index, key) in dictionary.keys.sorted().enumerated() {
        if index > 0 { line += "," }
        JSONText.appendString(key, to: &line)
        line += ":"
        if let element = dictionary[key] { append(element, to: &line) }
      }
      line += "}"
    }
  }

  /// RFC 3339 UTC with milliseconds (`2026-12-07T02:05:59.123Z`), written as digits without
  /// building intermediate strings: this runs for every decision.
  static func appendTimestamp(to output: inout String) {
    var time = timespec()
    clock_gettime(CLOCK_REALTIME, &time)
    var seconds = time_t(time.tv_sec)
    var parts = tm()
    gmtime_r(&seconds, &parts)
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { buffer in
      var count = 0
      func put(_ value: Int, width: Int, then separator: Character) {
        var value = max(0, value)
        var index = count + width - 1
        while index >= count {
          buffer[index] = UInt8(ascii: "0") + UInt8(value % 10)
          value /= 10
          index -= 1
        }
        count += width
        buffer[count] = separator.asciiValue ?? UInt8(ascii: "?")
        count += 1
      }
      put(Int(parts.tm_year) + 1900, width: 4, then: "-")
      put(Int(parts.tm_mon) + 1, width: 2, then: "-")
      put(Int(parts.tm_mday), width: 2, then: "T")
      put(Int(parts.tm_hour), width: 2, then: ":")
      put(Int(parts.tm_min), width: 2, then: ":")
      put(Int(parts.tm_sec), width: 2, then: ".")
      put(Int(time.tv_nsec) / 1_000_000, width: 3, then: "Z")
      output += String(decoding: UnsafeBufferPointer(rebasing: buffer[..<count]), as: UTF8.self)
    }
  }
}

/// A JSON `null` in log metadata.
public struct JSONNull: CustomStringConvertible, Sendable {
  public init() {}
  public var description: String { "null" }
}

/// Where log lines go. Whole lines are written under a lock so lines never interleave.
public final class LogSink: Sendable {
  private let lock = Mutex(())
  private let writeLine: @Sendable (String) -> Void

  public init(_ writeLine: @escaping @Sendable (String) -> Void) {
    self.writeLine = writeLine
  }

  public static let standardOutput = LogSink { line in writeAll(line, to: STDOUT_FILENO) }

  public static let standardError = LogSink { line in writeAll(line, to: STDERR_FILENO) }

  private static func writeAll(_ line: String, to descriptor: Int32) {
    var line = line
    line.withUTF8 { buffer in
      guard let base = buffer.baseAddress else { return }
      var offset = 0
      while offset < buffer.count {
        let written = Glibc.write(descriptor, base + offset, buffer.count - offset)
        if written <= 0 { break }
        offset += written
      }
    }
  }

  func write(_ line: String) {
    lock.withLock { _ in writeLine(line) }
  }
}

enum JSONText {
  /// Appends `value` as a JSON string literal.
  static func appendString(_ value: String, to output: inout String) {
    output += "\""
    // Runs without anything to escape are appended whole: this is on every decision's log line.
    let utf8 = value.utf8
    var start = utf8.startIndex
    var index = start
    while index < utf8.endIndex {
      let byte = utf8[index]
      var escape: String?
      var next = utf8.index(after: index)
      switch byte {
      case UInt8(ascii: "\""): escape = "\\\""
      case UInt8(ascii: "\\"): escape = "\\\\"
      case UInt8(ascii: "\n"): escape = "\\n"
      case UInt8(ascii: "\r"): escape = "\\r"
      case UInt8(ascii: "\t"): escape = "\\t"
      case 0..<0x20:
        let digits = Array("0123456789abcdef".utf8)
        escape = "\\u00" + String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 15)]], as: UTF8.self)
      case 0xE2:
        // U+2028 and U+2029 (E2 80 A8/A9) end lines in JavaScript: escaped too.
        if next < utf8.endIndex, utf8[next] == 0x80 {
          let third = utf8.index(after: next)
          if third < utf8.endIndex, utf8[third] == 0xA8 || utf8[third] == 0xA9 {
            escape = utf8[third] == 0xA8 ? "\\u2028" : "\\u2029"
            next = utf8.index(after: third)
          }
        }
      default: break
      }
      if let escape {
        output += value[start..<index]
        output += escape
        start = next
      }
      index = next
    }
    output += value[start..<utf8.endIndex]
    output += "\""
  }
}
