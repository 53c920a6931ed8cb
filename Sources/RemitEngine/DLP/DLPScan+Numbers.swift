/// Digit-anchored detectors: credit cards, US SSNs, phone numbers and IBANs.
extension DLPScan {
  /// A run of digit groups joined by one kind of single separator (`4111 1111 1111 1111`,
  /// `123-45-6789`, `555.234.5678`).
  struct NumberSpan {
    var start: Int
    var end: Int
    /// 0 when the digits are contiguous.
    var separator: UInt8 = 0
    var digitCount = 0
    /// The lengths of the first eight groups, one byte each, first group lowest.
    var groupLengths: UInt64 = 0
    var groupCount = 0

    func group(_ index: Int) -> Int { Int((groupLengths >> (8 * UInt64(index))) & 0xFF) }

    /// Whether there are exactly three groups of these lengths.
    func hasGroups(_ first: Int, _ second: Int, _ third: Int) -> Bool {
      groupCount == 3 && groupLengths == UInt64(first) | UInt64(second) << 8 | UInt64(third) << 16
    }
  }

  /// The longest digit span worth reading: anything longer is no card, SSN or phone number.
  static let maximumSpanDigits = 24

  /// Called at the first digit of a run. Returns the index digit anchors resume at.
  mutating func inspectNumber(at start: Int) -> Int {
    let previous = text[start - 1]
    if ASCII.isLetter(previous) || previous == UInt8(ascii: "_") {
      // Digits glued to a word (hashes, ids) are no card, SSN or phone; only an IBAN's check
      // digits follow its country code directly.
      if ASCII.isUpper(previous) && isOn(.iban) && ASCII.isUpper(text[start - 2])
        && !ASCII.isAlphanumeric(text[start - 3])
      {
        if let end = inspectIBAN(countryAt: start - 2) { return end }
      }
      return text.runEnd(from: start, limit: Int.max, ASCII.isDigit)
    }
    let span = text.readSpan(from: start)
    var resume = span.end
    if previous == UInt8(ascii: "+") {
      if isOn(.phone), let end = inspectE164(plusAt: start - 1) { resume = max(resume, end) }
      return resume
    }
    if previous == UInt8(ascii: "("), isOn(.phone), let end = inspectParenthesizedNANP(openAt: start - 1) {
      return max(resume, end)
    }
    // Cards, SSNs and NANP numbers all have nine digits or more: most numbers stop here. After a
    // space a group starts a number of its own (`10:00 4111-1111-1111-1111`, where the span stops
    // at the change of separator): only the first group is passed over.
    guard span.digitCount >= 9 else {
      return span.separator == UInt8(ascii: " ") ? start + span.group(0) : resume
    }
    if recordIfSensitive(span) { return resume }
    guard span.separator == UInt8(ascii: " ") else { return resume }
    // Space-separated numbers may be a list ("4111111111111111 2029", "078 05 1120 12"): a card or
    // SSN can be the leading groups, and every later group gets its own start.
    var groups = min(span.groupCount, 8) - 1
    while groups >= 1 {
      let prefix = text.prefix(of: span, groups: groups)
      if recordIfSensitive(prefix) { return prefix.end }
      groups -= 1
    }
    return start + span.group(0)
  }

  /// Records the span as a card, SSN or NANP phone number when it is one.
  mutating func recordIfSensitive(_ span: NumberSpan) -> Bool {
    guard span.digitCount <= Self.maximumSpanDigits else { return false }
    guard text.isStandalone(span) else {
      // `555-234-5678x1234`: a NANP number with a glued extension is still a phone number.
      if isOn(.phone), let end = text.phoneExtensionEnd(at: span.end), text.isStandaloneStart(span),
        text.isSeparatedNANP(span)
      {
        record(.phone, span.start..<end)
        return true
      }
      return false
    }
    if isOn(.creditCard) && text.isCreditCard(span) {
      record(.creditCard, span.start..<span.end)
    } else if isOn(.usSSN) && text.isSSN(span) {
      record(.usSSN, span.start..<span.end)
    } else if isOn(.phone) && text.isSeparatedNANP(span) {
      record(.phone, span.start..<span.end)
    } else {
      return false
    }
    return true
  }

  // MARK: Credit cards

  /// Issuer prefixes and lengths (ISO/IEC 7812 ranges as published by the networks).
  static func cardBrandAccepts(prefix six: Int, length: Int) -> Bool {
    let one = six / 100_000
    let two = six / 10_000
    let three = six / 1000
    let four = six / 100
    if one == 4 { return length == 13 || length == 16 || length == 19 }  // Visa
    if (51...55).contains(two) || (2221...2720).contains(four) { return length == 16 }  // Mastercard
    if two == 34 || two == 37 { return length == 15 }  // American Express
    if four == 6011 || (644...649).contains(three) || two == 65 || (622_126...622_925).contains(six) {
      return (16...19).contains(length)  // Discover
    }
    if (3528...3589).contains(four) { return (16...19).contains(length) }  // JCB
    if (300...305).contains(three) || two == 36 || two == 38 || two == 39 {
      return (14...19).contains(length)  // Diners Club
    }
    if two == 62 { return (16...19).contains(length) }  // UnionPay
    return false
  }

  // MARK: US Social Security numbers

  // MARK: Phone numbers

  /// Area code and exchange are `[2-9]XX` and not an `N11` service code.
  static func isNANP(area: Int, exchange: Int) -> Bool {
    area >= 200 && exchange >= 200 && area % 100 != 11 && exchange % 100 != 11
  }

  /// `(xxx) xxx-xxxx`, `(xxx)xxx-xxxx`, `(xxx) xxx xxxx`, `(xxx) xxx.xxxx`.
  mutating func inspectParenthesizedNANP(openAt open: Int) -> Int? {
    guard !ASCII.isWord(text[open - 1]) else { return nil }
    var index = open + 1
    func digits(_ count: Int) -> Int? {
      var value = 0
      for _ in 0..<count {
        let byte = text[index]
        guard ASCII.isDigit(byte) else { return nil }
        value = value * 10 + Int(byte - 48)
        index += 1
      }
      return value
    }
    guard let area = digits(3), text[index] == UInt8(ascii: ")") else { return nil }
    index += 1
    if text[index] == UInt8(ascii: " ") { index += 1 }
    guard let exchange = digits(3) else { return nil }
    let separator = text[index]
    guard separator == UInt8(ascii: "-") || separator == UInt8(ascii: " ") || separator == UInt8(ascii: ".")
    else { return nil }
    index += 1
    guard digits(4) != nil, !ASCII.isWord(text[index]), !text.continuesNumber(at: index),
      Self.isNANP(area: area, exchange: exchange)
    else { return nil }
    record(.phone, open..<index)
    return index
  }

  /// E.164: `+` and 8 to 15 digits starting 1-9, single spaces, dashes or dots between groups and
  /// at most one parenthesised group (`+44 (0)20 7946 0958`, `+1 (555) 234-5678`). `+1` numbers
  /// must also follow the NANP rules.
  mutating func inspectE164(plusAt plus: Int) -> Int? {
    guard !ASCII.isAlphanumeric(text[plus - 1]), text[plus + 1] != UInt8(ascii: "0") else { return nil }
    var index = plus + 1
    var digitCount = 0
    var national = 0  // the digits after a leading 1, for the NANP check
    var firstDigit: UInt8 = 0
    var usedParentheses = false
    while true {
      let byte = text[index]
      if ASCII.isDigit(byte) {
        if digitCount == 0 { firstDigit = byte }
        if digitCount >= 1 && digitCount <= 6 { national = national * 10 + Int(byte - 48) }
        digitCount += 1
        index += 1
        guard digitCount <= 15 else { return nil }
        continue
      }
      let next = text[index + 1]
      if (byte == UInt8(ascii: " ") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "."))
        && (ASCII.isDigit(next) || (next == UInt8(ascii: "(") && !usedParentheses))
      {
        index += 1
        continue
      }
      if byte == UInt8(ascii: "(") && !usedParentheses && ASCII.isDigit(next) && digitCount > 0 {
        let close = text.runEnd(from: index + 1, limit: 5, ASCII.isDigit)
        guard text[close] == UInt8(ascii: ")") else { break }
        usedParentheses = true
        index += 1
        while ASCII.isDigit(text[index]) {
          if digitCount >= 1 && digitCount <= 6 { national = national * 10 + Int(text[index] - 48) }
          digitCount += 1
          index += 1
        }
        index += 1  // ")"
        if text[index] == UInt8(ascii: " ") && ASCII.isDigit(text[index + 1]) { index += 1 }
        continue
      }
      break
    }
    var end = index
    while end > plus && !ASCII.isDigit(text[end - 1]) { end -= 1 }  // trailing separators
    guard digitCount >= 8, !ASCII.isWord(text[end]), !text.continuesNumber(at: end) else { return nil }
    if firstDigit == UInt8(ascii: "1") {
      guard digitCount == 11, Self.isNANP(area: national / 1000, exchange: national % 1000) else { return nil }
    }
    record(.phone, plus..<end)
    return end
  }

  // MARK: IBAN

  /// Country code, two check digits and the country's BBAN length of uppercase letters and digits,
  /// contiguous or in groups of four separated by single spaces; mod-97 must give 1.
  mutating func inspectIBAN(countryAt start: Int) -> Int? {
    let expected = DLPChecksum.ibanLength(text[start], text[start + 1])
    guard expected > 0, ASCII.isDigit(text[start + 2]), ASCII.isDigit(text[start + 3]) else { return nil }
    var index = start
    var count = 0
    var spaced: Bool? = nil
    while count < expected {
      if count > 0 && count % 4 == 0 && spaced != false {
        if text[index] == UInt8(ascii: " ") {
          spaced = true
          index += 1
        } else if spaced == true {
          return nil
        } else {
          spaced = false
        }
      }
      guard ASCII.isUpperOrDigit(text[index]) else { return nil }
      count += 1
      index += 1
    }
    guard !ASCII.isWord(text[index]) else { return nil }
    guard DLPChecksum.mod97IsValid(text.buffer(0..<text.count), start..<index) else { return nil }
    record(.iban, start..<index)
    return index
  }
}

extension DLPText {
  /// Reads digit groups joined by one kind of single separator (space, `-` or `.`).
  func readSpan(from start: Int) -> DLPScan.NumberSpan {
    var span = DLPScan.NumberSpan(start: start, end: start)
    var index = start
    while true {
      let groupStart = index
      // Groups are short: eight bytes at a time first, a byte loop only past eight digits.
      index += leadingDigitCount(at: index)
      if index - groupStart == 8 { while ASCII.isDigit(self[index]) { index += 1 } }
      let length = index - groupStart
      span.digitCount += length
      if span.groupCount < 8 { span.groupLengths |= UInt64(min(length, 255)) << (8 * UInt64(span.groupCount)) }
      span.groupCount += 1
      let next = self[index]
      let isSeparator = next == UInt8(ascii: " ") || next == UInt8(ascii: "-") || next == UInt8(ascii: ".")
      guard isSeparator, span.separator == 0 || span.separator == next, ASCII.isDigit(self[index + 1]),
        span.digitCount <= DLPScan.maximumSpanDigits
      else { break }
      span.separator = next
      index += 1
    }
    span.end = index
    if let meter = meter { meter.bytesRead += index - start + 1 }
    return span
  }

  /// Not a piece of a longer number: no decimal point or separator-joined digits on either side,
  /// no word character glued to the end.
  /// The first `groups` groups of `span`.
  func prefix(of span: DLPScan.NumberSpan, groups: Int) -> DLPScan.NumberSpan {
    var prefix = DLPScan.NumberSpan(start: span.start, end: span.start)
    prefix.separator = groups > 1 ? span.separator : 0
    var index = span.start
    for group in 0..<groups {
      let length = span.group(group)
      prefix.groupLengths |= UInt64(length) << (8 * UInt64(group))
      prefix.digitCount += length
      index += length + (group < groups - 1 ? 1 : 0)
    }
    prefix.groupCount = groups
    prefix.end = index
    return prefix
  }

  /// The end of an extension glued to a number (`x1234`, 1 to 6 digits), if one starts at `index`.
  func phoneExtensionEnd(at index: Int) -> Int? {
    guard self[index] | 0x20 == UInt8(ascii: "x") else { return nil }
    var end = index + 1
    while ASCII.isDigit(self[end]) && end - index <= 7 { end += 1 }
    let digits = end - index - 1
    guard (1...6).contains(digits), !ASCII.isWord(self[end]), !continuesNumber(at: end) else { return nil }
    return end
  }

  /// The left half of `isStandalone`: the span does not continue a number before it.
  func isStandaloneStart(_ span: DLPScan.NumberSpan) -> Bool {
    let before = self[span.start - 1]
    guard ASCII.isDigit(self[span.start - 2]) else { return true }
    switch before {
    case UInt8(ascii: "."), UInt8(ascii: ","), UInt8(ascii: "-"), UInt8(ascii: "/"), UInt8(ascii: ":"): return false
    default: return true
    }
  }

  func isStandalone(_ span: DLPScan.NumberSpan) -> Bool {
    let before = self[span.start - 1]
    let beforeBefore = self[span.start - 2]
    if ASCII.isDigit(beforeBefore) {
      switch before {
      case UInt8(ascii: "."), UInt8(ascii: ","), UInt8(ascii: "-"), UInt8(ascii: "/"), UInt8(ascii: ":"):
        return false
      default: break
      }
    }
    let after = self[span.end]
    if ASCII.isWord(after) { return false }
    if (after == UInt8(ascii: ".") || after == UInt8(ascii: ",") || after == UInt8(ascii: "-")
      || after == UInt8(ascii: "/") || after == UInt8(ascii: ":")) && ASCII.isDigit(self[span.end + 1])
    {
      return false
    }
    return true
  }

  func isCreditCard(_ span: DLPScan.NumberSpan) -> Bool {
    let length = span.digitCount
    guard length >= 13, length <= 19 else { return false }
    switch span.separator {
    case 0:
      guard span.groupCount == 1 else { return false }
    case UInt8(ascii: " "), UInt8(ascii: "-"):
      // 4-4-4-4(-3), 4-4-4-1 and the like, or Amex / Diners 4-6-5 / 4-6-4.
      var fours = true
      for index in 0..<(span.groupCount - 1) where span.group(index) != 4 { fours = false }
      let last = span.group(span.groupCount - 1)
      let grouped =
        (fours && span.groupCount >= 4 && last >= 1 && last <= 4) || span.hasGroups(4, 6, 5)
        || span.hasGroups(4, 6, 4)
      guard grouped else { return false }
    default:
      return false
    }
    let prefix = leadingDigits(of: span, count: 6)
    guard DLPScan.cardBrandAccepts(prefix: prefix, length: length) else { return false }
    return DLPChecksum.luhnIsValid(buffer(0..<count), span.start..<span.end, minimumDigits: 13)
  }

  /// The first `count` digits of the span as a number.
  func leadingDigits(of span: DLPScan.NumberSpan, count: Int) -> Int {
    var value = 0
    var taken = 0
    var index = span.start
    while taken < count && index < span.end {
      let byte = self[index]
      if ASCII.isDigit(byte) {
        value = value * 10 + Int(byte - 48)
        taken += 1
      }
      index += 1
    }
    return value
  }

  func isSSN(_ span: DLPScan.NumberSpan) -> Bool {
    let separated =
      (span.separator == UInt8(ascii: "-") || span.separator == UInt8(ascii: " ")) && span.hasGroups(3, 2, 4)
    // Nine bare digits are everywhere (ids, amounts); they count only right after an SSN keyword.
    let bare = span.separator == 0 && span.groupCount == 1 && span.digitCount == 9 && hasSSNKeyword(before: span.start)
    guard separated || bare else { return false }
    let digits = leadingDigits(of: span, count: 9)
    let area = digits / 1_000_000
    let group = (digits / 10_000) % 100
    let serial = digits % 10_000
    return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
  }

  /// `ssn` or `social security` (any case, `_`/`-`/space between) within the 32 bytes before.
  func hasSSNKeyword(before start: Int) -> Bool {
    let window = max(0, start - 32)..<start
    return contains("ssn", in: window) || contains("social", in: window)
  }

  /// NANP `xxx-xxx-xxxx` or `xxx.xxx.xxxx`.
  func isSeparatedNANP(_ span: DLPScan.NumberSpan) -> Bool {
    guard span.separator == UInt8(ascii: "-") || span.separator == UInt8(ascii: "."), span.hasGroups(3, 3, 4)
    else { return false }
    let digits = leadingDigits(of: span, count: 6)
    return DLPScan.isNANP(area: digits / 1000, exchange: digits % 1000)
  }

  /// A decimal point or separator followed by more digits.
  func continuesNumber(at index: Int) -> Bool {
    let byte = self[index]
    return (byte == UInt8(ascii: ".") || byte == UInt8(ascii: ",") || byte == UInt8(ascii: "-"))
      && ASCII.isDigit(self[index + 1])
  }
}
