import Foundation

/// RFC 3339 times as the API speaks them, converted to and from microseconds since the epoch
/// without calendars or locales: the store orders and pages audit events by that integer.
public enum RFC3339 {
  /// Microseconds since 1970-01-01T00:00:00Z, or nil when `text` is not an RFC 3339 date-time
  /// (`2026-11-23T10:00:00Z`, `2026-11-23T10:00:00.123456+01:00`). Fractions finer than a
  /// microsecond are truncated; leap seconds (`:60`) are refused.
  public static func microseconds(_ text: String) -> Int64? {
    let bytes = Array(text.utf8)
    guard bytes.count >= 20, bytes.count <= 40 else { return nil }
    var index = 0
    func digits(_ count: Int) -> Int? {
      guard index + count <= bytes.count else { return nil }
      var value = 0
      for byte in bytes[index..<(index + count)] {
        guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
        value = value * 10 + Int(byte - UInt8(ascii: "0"))
      }
      index += count
      return value
    }
    func expect(_ characters: String) -> Bool {
      guard index < bytes.count, characters.utf8.contains(bytes[index]) else { return false }
      index += 1
      return true
    }
    guard let year = digits(4), expect("-"), let month = digits(2), expect("-"), let day = digits(2),
      expect("Tt"), let hour = digits(2), expect(":"), let minute = digits(2), expect(":"),
      let second = digits(2)
    else { return nil }
    guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year), hour <= 23, minute <= 59,
      second <= 59
    else { return nil }
    var micros = 0
    if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
      index += 1
      var count = 0
      while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
        if count < 6 { micros = micros * 10 + Int(bytes[index] - UInt8(ascii: "0")) }
        count += 1
        index += 1
      }
      guard count >= 1, count <= 9 else { return nil }
      if count < 6 { for _ in count..<6 { micros *= 10 } }
    }
    var offsetSeconds = 0
    if expect("Zz") {
      // UTC.
    } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
      let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
      index += 1
      guard let offsetHours = digits(2), expect(":"), let offsetMinutes = digits(2), offsetHours <= 23,
        offsetMinutes <= 59
      else { return nil }
      offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
    } else {
      return nil
    }
    guard index == bytes.count else { return nil }
    let days = Int64(daysFromCivil(year: year, month: month, day: day))
    let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetSeconds)
    return seconds * 1_000_000 + Int64(micros)
  }

  /// `2026-11-23T10:00:00.123Z`: milliseconds when the time has no finer part, microseconds otherwise.
  public static func string(microseconds: Int64) -> String {
    let seconds = floorDivide(microseconds, 1_000_000)
    let micros = Int(microseconds - seconds * 1_000_000)
    let days = floorDivide(seconds, 86_400)
    let secondOfDay = Int(seconds - days * 86_400)
    let (year, month, day) = civilFromDays(Int(days))
    func pad(_ value: Int, _ width: Int) -> String {
      let text = String(value)
      return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
    let fraction = micros % 1000 == 0 ? pad(micros / 1000, 3) : pad(micros, 6)
    return
      "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(fraction)Z"
  }

  public static func date(_ text: String) -> Date? { microseconds(text).map(date(microseconds:)) }

  public static func string(_ date: Date) -> String { string(microseconds: microseconds(date)) }

  static func date(microseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(microseconds) / 1_000_000) }

  static func microseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1_000_000).rounded()) }

  static let example = "2026-11-23T10:00:00.123Z"

  private static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
    value >= 0 ? value / divisor : -((-value + divisor - 1) / divisor)
  }

  private static func isLeapYear(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

  private static func daysIn(month: Int, year: Int) -> Int {
    switch month {
    case 2: isLeapYear(year) ? 29 : 28
    case 4, 6, 9, 11: 30
    default: 31
    }
  }

  // Howard Hinnant's days-from-civil and its inverse (proleptic Gregorian calendar).
  private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yearOfEra = y - era * 400
    let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    return era * 146_097 + dayOfEra - 719_468
  }

  private static func civilFromDays(_ days: Int) -> (Int, Int, Int) {
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let dayOfEra = z - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let monthPart = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * monthPart + 2) / 5 + 1
    let month = monthPart < 10 ? monthPart + 3 : monthPart - 9
    return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
  }
}

/// A `Date` that encodes as an RFC 3339 string and decodes only from one.
@propertyWrapper
public struct RFC3339Time: Codable, Sendable, Equatable, Hashable {
  public var wrappedValue: Date

  public init(wrappedValue: Date) { self.wrappedValue = wrappedValue }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    let text = try container.decode(String.self)
    guard let date = RFC3339.date(text) else {
      throw DecodingError.dataCorruptedError(
        in: container, debugDescription: "must be an RFC 3339 time, e.g. \(RFC3339.example)")
    }
    wrappedValue = date
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(RFC3339.string(wrappedValue))
  }
}

extension DecodingError {
  /// The field at fault (`events[3].time`) and what is wrong, for a 422.
  var fieldProblem: ControlPlaneError.FieldProblem {
    func path(_ keys: [any CodingKey]) -> String {
      var path = ""
      for key in keys {
        if let index = key.intValue {
          path += "[\(index)]"
        } else {
          path += path.isEmpty ? key.stringValue : ".\(key.stringValue)"
        }
      }
      return path
    }
    switch self {
    case .typeMismatch(let type, let context):
      let expected =
        switch type {
        case is String.Type, is String?.Type: "a string"
        case is Int.Type, is Int64.Type, is Int?.Type, is Int64?.Type: "an integer"
        case is Bool.Type: "true or false"
        default: "\(type)".hasPrefix("Array") ? "a list" : "an object"
        }
      return .init(field: path(context.codingPath), message: "must be \(expected)")
    case .valueNotFound(_, let context):
      return .init(field: path(context.codingPath), message: "is required and may not be null")
    case .keyNotFound(let key, let context):
      return .init(field: path(context.codingPath + [key]), message: "is required")
    case .dataCorrupted(let context):
      return .init(field: path(context.codingPath), message: context.debugDescription)
    @unknown default:
      return .init(field: "", message: "is not valid")
    }
  }
}
