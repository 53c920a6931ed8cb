/// A policy's own detector: case-insensitive keywords find candidate places cheaply, then a Swift
/// `Regex` runs only in a bounded window around each keyword hit, then an optional checksum.
///
/// Window: from 256 bytes before the keyword to 256 bytes after its end (trimmed to whole UTF-8
/// characters). A match must lie inside the window of some keyword hit. Patterns are at most 512
/// bytes and may not nest unbounded quantifiers (`(a+)+`, `(\w*)*`, `(a|b)+…` with an inner `+`),
/// the shape of catastrophic backtracking; with the window that bounds a scan's work.
public struct DLPCustomRule: Sendable {
  public static let maximumPatternLength = 512
  public static let maximumKeywords = 32
  public static let maximumKeywordLength = 64
  public static let maximumIDLength = 64
  /// Bytes on each side of a keyword hit the pattern is run over.
  public static let window = 256

  public let id: String
  public let keywords: [String]
  public let pattern: String
  public let validator: DLPValidator?
  /// Lowercased UTF-8 bytes of each keyword.
  let keywordBytes: [[UInt8]]
  let compiled: DLPCompiledPattern

  public init(id: String, keywords: [String], pattern: String, validator: DLPValidator?) throws(DLPPatternError) {
    guard !id.isEmpty, id.utf8.count <= Self.maximumIDLength,
      id.utf8.allSatisfy({ ASCII.isWord($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") })
    else {
      throw DLPPatternError(
        code: "dlp_custom_id_invalid",
        message:
          "a custom DLP detector id must be 1 to \(Self.maximumIDLength) characters of letters, digits, '_', '-' or '.'"
      )
    }
    guard DLPDetector(rawValue: id) == nil else {
      throw DLPPatternError(
        code: "dlp_custom_id_reserved",
        message: "custom DLP detector id '\(id)' is a built-in detector id; choose another name")
    }
    guard !keywords.isEmpty else {
      throw DLPPatternError(
        code: "dlp_keywords_missing",
        message: "custom DLP detector '\(id)' needs at least one keyword: the pattern only runs near a keyword")
    }
    guard keywords.count <= Self.maximumKeywords else {
      throw DLPPatternError(
        code: "dlp_keywords_too_many",
        message:
          "custom DLP detector '\(id)' has \(keywords.count) keywords; at most \(Self.maximumKeywords) are allowed")
    }
    var keywordBytes: [[UInt8]] = []
    for keyword in keywords {
      let bytes = keyword.utf8.map(ASCII.lowercased)
      guard !bytes.isEmpty, bytes.count <= Self.maximumKeywordLength, !bytes.allSatisfy(ASCII.isSpace) else {
        throw DLPPatternError(
          code: "dlp_keyword_invalid",
          message:
            "custom DLP detector '\(id)' has an empty or over-long keyword; each must be 1 to \(Self.maximumKeywordLength) bytes and not blank"
        )
      }
      keywordBytes.append(bytes)
    }
    guard !pattern.isEmpty else {
      throw DLPPatternError(code: "dlp_pattern_empty", message: "custom DLP detector '\(id)' has an empty pattern")
    }
    guard pattern.utf8.count <= Self.maximumPatternLength else {
      throw DLPPatternError(
        code: "dlp_pattern_too_long",
        message:
          "custom DLP detector '\(id)' has a pattern of \(pattern.utf8.count) bytes; at most \(Self.maximumPatternLength) are allowed"
      )
    }
    if let problem = DLPPatternSafety.problem(in: pattern) {
      throw DLPPatternError(
        code: "dlp_pattern_unsafe",
        message: "custom DLP detector '\(id)': \(problem); rewrite it without nested repetition")
    }
    let regex: Regex<AnyRegexOutput>
    do {
      regex = try Regex(pattern).matchingSemantics(.unicodeScalar)
    } catch {
      throw DLPPatternError(
        code: "dlp_pattern_invalid",
        message: "custom DLP detector '\(id)' has a pattern that does not compile as a Swift regex; check its syntax")
    }
    self.id = id
    self.keywords = keywords
    self.pattern = pattern
    self.validator = validator
    self.keywordBytes = keywordBytes
    self.compiled = DLPCompiledPattern(regex)
  }
}

/// A compiled regex shared by concurrent scans. `Regex` is not declared Sendable; it is an
/// immutable value whose lazily lowered program is published atomically, and the initializer
/// lowers it eagerly (one match on an empty string) before the value is shared.
final class DLPCompiledPattern: @unchecked Sendable {
  let regex: Regex<AnyRegexOutput>

  init(_ regex: Regex<AnyRegexOutput>) {
    self.regex = regex
    _ = try? regex.firstMatch(in: "")
  }
}

/// Rejects the pattern shapes that make a backtracking engine exponential.
enum DLPPatternSafety {
  /// A human-readable problem, or nil when the pattern looks safe.
  static func problem(in pattern: String) -> String? {
    // Per open group: does it contain an unbounded quantifier, an alternation?
    var stack: [(unbounded: Bool, alternation: Bool)] = [(false, false)]
    let bytes = Array(pattern.utf8)
    var index = 0
    while index < bytes.count {
      let byte = bytes[index]
      switch byte {
      case UInt8(ascii: "\\"):
        index += 2
        continue
      case UInt8(ascii: "["):
        // Skip the class: a leading ']' or '^]' is literal, escapes skip a byte.
        index += 1
        if index < bytes.count && bytes[index] == UInt8(ascii: "^") { index += 1 }
        if index < bytes.count && bytes[index] == UInt8(ascii: "]") { index += 1 }
        while index < bytes.count && bytes[index] != UInt8(ascii: "]") {
          index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
        }
      case UInt8(ascii: "("):
        guard stack.count < 64 else { return "groups are nested more than 64 deep" }
        stack.append((false, false))
      case UInt8(ascii: ")"):
        guard stack.count > 1, let group = stack.popLast() else { break }
        let quantifier = quantifierKind(bytes, after: index)
        if group.unbounded && quantifier != .none {
          return "a group containing '*', '+' or '{n,}' is itself repeated"
        }
        if group.alternation && quantifier == .unbounded {
          return "an alternation is repeated without bound"
        }
        let last = stack.count - 1
        stack[last].unbounded = stack[last].unbounded || group.unbounded || quantifier == .unbounded
      case UInt8(ascii: "|"):
        stack[stack.count - 1].alternation = true
      case UInt8(ascii: "*"), UInt8(ascii: "+"):
        stack[stack.count - 1].unbounded = true
      case UInt8(ascii: "{"):
        if quantifierKind(bytes, after: index - 1) == .unbounded { stack[stack.count - 1].unbounded = true }
      default:
        break
      }
      index += 1
    }
    return nil
  }

  enum Quantifier { case none, bounded, unbounded }

  /// The quantifier following position `index`, if any.
  static func quantifierKind(_ bytes: [UInt8], after index: Int) -> Quantifier {
    let next = index + 1
    guard next < bytes.count else { return .none }
    switch bytes[next] {
    case UInt8(ascii: "*"), UInt8(ascii: "+"): return .unbounded
    case UInt8(ascii: "?"): return .bounded
    case UInt8(ascii: "{"):
      var cursor = next + 1
      var sawComma = false
      var digitsAfterComma = false
      while cursor < bytes.count && bytes[cursor] != UInt8(ascii: "}") {
        if bytes[cursor] == UInt8(ascii: ",") {
          sawComma = true
        } else if sawComma && ASCII.isDigit(bytes[cursor]) {
          digitsAfterComma = true
        } else if !ASCII.isDigit(bytes[cursor]) {
          return .none  // a literal brace
        }
        cursor += 1
      }
      guard cursor < bytes.count else { return .none }
      return sawComma && !digitsAfterComma ? .unbounded : .bounded
    default:
      return .none
    }
  }
}
