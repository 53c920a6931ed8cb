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
    var line = "{\"time\":"
    JSONText.appendString(Self.timestamp(), to: &line)
    line += ",\"level\":"
    JSONText.appendString(event.level.rawValue, to: &line)
    line += ",\"message\":"
    JSONText.appendString(event.message.description, to: &line)
    var merged = metadata
    if let extra = event.metadata { merged.merge(extra) { $1 } }
    for key in merged.keys.sorted() {
      guard key != "time", key != "level", key != "message", let value = merged[key] else { continue }
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

  static func timestamp() -> String {
    var time = timespec()
    clock_gettime(CLOCK_REALTIME, &time)
    var seconds = time_t(time.tv_sec)
    var parts = tm()
    gmtime_r(&seconds, &parts)
    let millis = Int(time.tv_nsec) / 1_000_000
    func pad(_ value: Int32, _ width: Int) -> String {
      let text = String(value)
      return String(repeating: "0", count: max(0, width - text.count)) + text
    }
    return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
      + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
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
