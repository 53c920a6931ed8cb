#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// `generic_secret`: a high-entropy value assigned to a secret-like key, in JSON
/// (`"api_key": "…"`, also inside an escaped JSON string), query/form (`token=…`), env
/// (`SECRET=…`) or YAML (`password: …`) style. Anchored on `:` and `=`.
extension DLPScan {
  static let minimumSecretLength = 16
  static let maximumSecretLength = 512
  /// Shannon entropy in bits per byte a value must reach. Random base62 of 16 bytes has about 3.7,
  /// random hex about 3.4; words, repeated characters and sequences stay well below 3.
  static let minimumSecretEntropy = 3.0

  /// At the closing quote of a JSON key (possibly escaped) that ends like a secret word: the
  /// assignment is the colon after it.
  mutating func inspectQuotedKey(at quote: Int) {
    var colon = quote + 1
    while colon < quote + 5 && text[colon] == UInt8(ascii: " ") { colon += 1 }
    guard text[colon] == UInt8(ascii: ":"), colon >= assignmentResume else { return }
    inspectAssignment(at: colon)
  }

  mutating func inspectAssignment(at index: Int) {
    let isColon = text.base[index] == UInt8(ascii: ":")
    // The key: skip blanks and a closing quote (escaped or not) back from the anchor.
    var keyEnd = index
    var quoted = false
    if isColon {
      while keyEnd > index - 4 && text[keyEnd - 1] == UInt8(ascii: " ") { keyEnd -= 1 }
      if text[keyEnd - 1] == UInt8(ascii: "\"") {
        quoted = true
        keyEnd -= 1
        if text[keyEnd - 1] == UInt8(ascii: "\\") { keyEnd -= 1 }
      }
    }
    // Cheap reject first: the last four letters of every secret word are one of six endings.
    guard text.hasSecretWordEnding(before: keyEnd) else { return }
    var keyStart = keyEnd
    while keyStart > keyEnd - 64 && Self.isKeyByte(text[keyStart - 1]) { keyStart -= 1 }
    guard keyStart < keyEnd, text.isSecretKey(keyStart..<keyEnd) else { return }

    guard let value = text.assignedValue(after: index, jsonString: isColon && quoted, colon: isColon) else { return }
    assignmentResume = value.upperBound
    if text.isSecretLooking(value) { record(.genericSecret, value) }
  }

  @inline(__always)
  static func isKeyByte(_ byte: UInt8) -> Bool {
    ASCII.isWord(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
  }

  @inline(__always)
  static func isBareValueByte(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x00...0x20, UInt8(ascii: "&"), UInt8(ascii: ";"), UInt8(ascii: ","), UInt8(ascii: "\""),
      UInt8(ascii: "'"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "("), UInt8(ascii: ")"),
      UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "\\"),
      UInt8(ascii: "#"), 0x7F:
      return false
    default:
      return true
    }
  }

}

extension DLPText {
  /// The key, lowercased and without `_`, `-`, `.`, ends in a secret word: password, passwd, secret,
  /// token, apikey, accesskey, privatekey, secretkey or auth (so `client_secret`, `GITHUB_TOKEN`,
  /// `x-api-key`, `accessKey`, `db.password` all count; `max_tokens`, `author` do not).
  /// The last four key letters (lowercased, `_` `-` `.` skipped) before `end` are `word` (password),
  /// `sswd` (passwd), `cret` (secret), `oken` (token), `?key` (…key) or `auth`.
  @inline(__always)
  func hasSecretWordEnding(before end: Int) -> Bool {
    var last4: UInt32 = 0
    var length = 0
    var index = end
    while length < 4 && index > end - 8 {
      index -= 1
      let byte = self[index]
      if byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") { continue }
      guard ASCII.isLetter(byte) else { return false }
      last4 |= UInt32(byte | 0x20) << (8 * UInt32(length))
      length += 1
    }
    guard length == 4 else { return false }
    switch last4 {
    case 0x776f_7264, 0x7373_7764, 0x6372_6574, 0x6f6b_656e, 0x6175_7468: return true
    default: return last4 & 0x00ff_ffff == 0x006b_6579  // "key"
    }
  }

  func isSecretKey(_ key: Range<Int>) -> Bool {
    // The last 16 letters of the key, normalised, last letter in the lowest byte.
    var tail: UInt128 = 0
    var length = 0
    for index in key {
      let byte = base[index]
      if byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") { continue }
      tail = tail << 8 | UInt128(byte | (ASCII.isUpper(byte) ? 0x20 : 0))
      length += 1
    }
    return (length >= 8 && tail & 0xffff_ffff_ffff_ffff == 0x7061_7373_776f_7264)  // password
      || (length >= 6 && tail & 0xffff_ffff_ffff == 0x7061_7373_7764)  // passwd
      || (length >= 6 && tail & 0xffff_ffff_ffff == 0x7365_6372_6574)  // secret
      || (length >= 5 && tail & 0x00ff_ffff_ffff == 0x0074_6f6b_656e)  // token
      || (length >= 6 && tail & 0xffff_ffff_ffff == 0x6170_696b_6579)  // apikey
      || (length >= 9 && tail & 0x00ff_ffff_ffff_ffff_ffff == 0x0061_6363_6573_736b_6579)  // accesskey
      || (length >= 10 && tail & 0xffff_ffff_ffff_ffff_ffff == 0x7072_6976_6174_656b_6579)  // privatekey
      || (length >= 9 && tail & 0x00ff_ffff_ffff_ffff_ffff == 0x0073_6563_7265_746b_6579)  // secretkey
      || (length >= 4 && tail & 0xffff_ffff == 0x6175_7468)  // auth
  }

  /// The value's byte range: a JSON string after `:`, or after `=` (or a YAML `:`) a quoted or bare
  /// token. Nil when there is none or it is longer than the maximum.
  func assignedValue(after index: Int, jsonString: Bool, colon: Bool) -> Range<Int>? {
    var start = index + 1
    if colon {
      while start < index + 9 && self[start] == UInt8(ascii: " ") { start += 1 }
    }
    var quote: UInt8 = 0
    if self[start] == UInt8(ascii: "\\") && self[start + 1] == UInt8(ascii: "\"") { start += 1 }
    if self[start] == UInt8(ascii: "\"") || self[start] == UInt8(ascii: "'") {
      quote = self[start]
      start += 1
    } else if jsonString {
      return nil  // a number, object or literal
    } else if colon && start == index + 1 {
      return nil  // YAML needs a blank after the colon; `https://`, `10:30` are no assignments
    }
    var end = start
    let stop = min(count, start + DLPScan.maximumSecretLength + 1)
    while end < stop {
      let byte = base[end]
      if quote != 0 {
        if byte == quote { break }
        if byte == UInt8(ascii: "\\") {
          if self[end + 1] == UInt8(ascii: "\"") { break }  // the end of an escaped JSON string
          end += 2
          continue
        }
        if byte == 0x0A || byte == 0x0D { return nil }
      } else if !DLPScan.isBareValueByte(byte) {
        break
      }
      end += 1
    }
    guard end - start <= DLPScan.maximumSecretLength, end <= count else { return nil }
    return start..<end
  }

  /// At least 16 bytes, no blanks, not a placeholder, two of lower/upper/digit, entropy ≥ 3 bits.
  func isSecretLooking(_ value: Range<Int>) -> Bool {
    guard value.count >= DLPScan.minimumSecretLength, !isPlaceholder(value) else { return false }
    var lower = false
    var upper = false
    var digit = false
    for index in value {
      let byte = base[index]
      if ASCII.isSpace(byte) { return false }
      lower = lower || ASCII.isLower(byte)
      upper = upper || ASCII.isUpper(byte)
      digit = digit || ASCII.isDigit(byte)
    }
    guard (lower ? 1 : 0) + (upper ? 1 : 0) + (digit ? 1 : 0) >= 2 else { return false }
    return shannonEntropy(value) >= DLPScan.minimumSecretEntropy
  }

  /// `${VAR}`, `{{var}}`, `<redacted>`, `[hidden]`, `$(cmd)`, `%(name)s`, and values holding
  /// `changeme`, `change_me`, `change-me`, `xxxx`, `****`, `...`, `your_`, `your-`, `example`,
  /// `placeholder`, `redacted`, `dummy`, `insert`, `replace` (any case), or one character repeated.
  func isPlaceholder(_ value: Range<Int>) -> Bool {
    let first = self[value.lowerBound]
    let second = self[value.lowerBound + 1]
    if first == UInt8(ascii: "<") || first == UInt8(ascii: "[") { return true }
    if (first == UInt8(ascii: "$") || first == UInt8(ascii: "%"))
      && (second == UInt8(ascii: "{") || second == UInt8(ascii: "(")) || (first == UInt8(ascii: "{") && second == first)
    {
      return true
    }
    // One pass; a marker is only compared where its first byte occurs, and must end in the value.
    func marker(_ literal: StaticString, at index: Int) -> Bool {
      index + literal.utf8CodeUnitCount <= value.upperBound && hasIgnoringCase(literal, at: index)
    }
    for index in value {
      let matched: Bool
      switch ASCII.lowercased(base[index]) {
      case UInt8(ascii: "c"):
        matched = marker("changeme", at: index) || marker("change_me", at: index) || marker("change-me", at: index)
      case UInt8(ascii: "x"): matched = marker("xxxx", at: index)
      case UInt8(ascii: "*"): matched = marker("****", at: index)
      case UInt8(ascii: "."): matched = marker("...", at: index)
      case UInt8(ascii: "y"): matched = marker("your_", at: index) || marker("your-", at: index)
      case UInt8(ascii: "e"): matched = marker("example", at: index)
      case UInt8(ascii: "p"): matched = marker("placeholder", at: index)
      case UInt8(ascii: "r"): matched = marker("redacted", at: index) || marker("replace", at: index)
      case UInt8(ascii: "d"): matched = marker("dummy", at: index)
      case UInt8(ascii: "i"): matched = marker("insert", at: index)
      default: matched = false
      }
      if matched { return true }
    }
    return runEnd(from: value.lowerBound, limit: value.count) { $0 == first } == value.upperBound
  }

  /// Shannon entropy of the bytes in bits per byte.
  func shannonEntropy(_ value: Range<Int>) -> Double {
    withUnsafeTemporaryAllocation(of: UInt16.self, capacity: 256) { counts in
      counts.initialize(repeating: 0)
      for index in value { counts[Int(base[index])] &+= 1 }
      // H = log2(n) - (1/n) * sum(c * log2(c)) over the byte counts c.
      let total = Double(value.count)
      var sum = 0.0
      for count in counts where count > 1 {
        let countValue = Double(count)
        sum += countValue * log2(countValue)
      }
      return log2(total) - sum / total
    }
  }
}
