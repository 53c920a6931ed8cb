/// The checksums the built-in and custom detectors validate with. Work on bytes, allocate nothing.
enum DLPChecksum {
  /// Luhn (mod 10) over the ASCII digits of `text[range]`; other bytes are skipped.
  static func luhnIsValid(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, minimumDigits: Int = 2) -> Bool {
    var sum = 0
    var digitCount = 0
    var index = range.upperBound
    while index > range.lowerBound {
      index -= 1
      let value = Int(text[index]) &- 48
      guard value >= 0, value <= 9 else { continue }
      if digitCount & 1 == 1 {
        let doubled = value * 2
        sum += doubled > 9 ? doubled - 9 : doubled
      } else {
        sum += value
      }
      digitCount += 1
    }
    return digitCount >= minimumDigits && sum % 10 == 0
  }

  /// ISO 7064 mod-97-10 as used by IBANs over the letters and digits of `text[range]` (others
  /// skipped): the first four move to the end, letters count as 10...35, the remainder must be 1.
  static func mod97IsValid(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, minimumCharacters: Int = 5) -> Bool
  {
    var remainder = 0
    var leading: (Int, Int, Int, Int) = (0, 0, 0, 0)
    var count = 0
    for index in range {
      guard let value = alphanumericValue(text[index]) else { continue }
      switch count {
      case 0: leading.0 = value
      case 1: leading.1 = value
      case 2: leading.2 = value
      case 3: leading.3 = value
      default: remainder = mod97Append(remainder, value)
      }
      count += 1
    }
    guard count >= minimumCharacters else { return false }
    remainder = mod97Append(remainder, leading.0)
    remainder = mod97Append(remainder, leading.1)
    remainder = mod97Append(remainder, leading.2)
    remainder = mod97Append(remainder, leading.3)
    return remainder == 1
  }

  @inline(__always)
  static func mod97Append(_ remainder: Int, _ value: Int) -> Int {
    value >= 10 ? (remainder * 100 + value) % 97 : (remainder * 10 + value) % 97
  }

  /// 0...9 for digits, 10...35 for letters (either case), nil otherwise.
  @inline(__always)
  static func alphanumericValue(_ byte: UInt8) -> Int? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte) - 48
    case UInt8(ascii: "A")...UInt8(ascii: "Z"): return Int(byte) - 55
    case UInt8(ascii: "a")...UInt8(ascii: "z"): return Int(byte) - 87
    default: return nil
    }
  }

  /// IBAN length per ISO 3166 country code (SWIFT IBAN registry), indexed by (first - 'A') * 26 +
  /// (second - 'A'); 0 means "no IBAN for this country".
  static let ibanLengths: [UInt8] = {
    let registry =
      "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BI27 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DJ27 DK18 DO28 EE20 "
      + "EG29 ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IQ23 IS26 IT27 JO30 KW30 "
      + "KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 MC27 MD24 ME22 MK19 MN20 MR27 MT31 MU30 NI28 NL18 NO15 OM23 PK24 "
      + "PL28 PS29 PT25 QA29 RO24 RS22 RU33 SA24 SC31 SD18 SE24 SI19 SK24 SM27 SO23 ST25 SV28 TL23 TN24 TR26 UA29 "
      + "VA22 VG24 XK20 YE30"
    var table = [UInt8](repeating: 0, count: 26 * 26)
    for entry in registry.split(separator: " ") {
      let bytes = Array(entry.utf8)
      let length = (bytes[2] - 48) * 10 + (bytes[3] - 48)
      table[Int(bytes[0] - 65) * 26 + Int(bytes[1] - 65)] = length
    }
    return table
  }()

  /// The IBAN length of the country whose code is the two uppercase letters, or 0.
  static func ibanLength(_ first: UInt8, _ second: UInt8) -> Int {
    guard first >= 65, first <= 90, second >= 65, second <= 90 else { return 0 }
    return Int(ibanLengths[Int(first - 65) * 26 + Int(second - 65)])
  }
}
