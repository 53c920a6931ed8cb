#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// An IP address as 128 bits. IPv4 is stored IPv4-mapped (`::ffff:a.b.c.d`), so an IPv4 literal
/// and its mapped IPv6 spelling are the same key, and an IPv4 `/n` is the IPv6 `/(96 + n)`.
struct AddressKey: Sendable, Hashable {
  var high: UInt64
  var low: UInt64

  static let mappedPrefixLength = 96
  private static let mappedHigh: UInt64 = 0
  private static let mappedLowTag: UInt64 = 0x0000_FFFF_0000_0000

  init(high: UInt64, low: UInt64) {
    self.high = high
    self.low = low
  }

  /// Parses an IPv4 or IPv6 literal (IPv6 may be bracketed).
  init?(literal: some StringProtocol) {
    var text = String(literal)
    guard let key = text.withUTF8({ AddressKey(utf8: $0) }) else { return nil }
    self = key
  }

  /// Parses an IPv4 dotted quad (strictly, as `inet_pton`: four decimal parts of 0-255 without
  /// leading zeros) or an IPv6 literal, optionally bracketed. Allocates nothing.
  init?(utf8 input: UnsafeBufferPointer<UInt8>) {
    var bytes = input[...]
    if bytes.first == UInt8(ascii: "[") {
      guard bytes.last == UInt8(ascii: "]") else { return nil }
      bytes = bytes.dropFirst().dropLast()
    }
    guard !bytes.isEmpty, bytes.count <= 45 else { return nil }
    if bytes.contains(UInt8(ascii: ":")) {
      guard let key = Self.parseIPv6(UnsafeBufferPointer(rebasing: bytes)) else { return nil }
      self = key
    } else {
      guard input.first != UInt8(ascii: "["), let v4 = Self.parseIPv4(bytes) else { return nil }
      self.init(high: Self.mappedHigh, low: Self.mappedLowTag | UInt64(v4))
    }
  }

  private static func parseIPv4(_ bytes: UnsafeBufferPointer<UInt8>.SubSequence) -> UInt32? {
    var value: UInt32 = 0
    var part: UInt32 = 0
    var digits = 0
    var parts = 0
    for byte in bytes {
      if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
        if digits > 0 && part == 0 { return nil }  // leading zero
        part = part * 10 + UInt32(byte - UInt8(ascii: "0"))
        digits += 1
        if part > 255 { return nil }
      } else if byte == UInt8(ascii: ".") && digits > 0 && parts < 3 {
        value = value << 8 | part
        parts += 1
        part = 0
        digits = 0
      } else {
        return nil
      }
    }
    guard parts == 3, digits > 0 else { return nil }
    return value << 8 | part
  }

  private static func parseIPv6(_ bytes: UnsafeBufferPointer<UInt8>) -> AddressKey? {
    // inet_pton wants a C string: copy into a NUL-terminated stack buffer.
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: bytes.count + 1) { text -> AddressKey? in
      for index in 0..<bytes.count { text[index] = CChar(bitPattern: bytes[index]) }
      text[bytes.count] = 0
      var address = in6_addr()
      guard let base = text.baseAddress, inet_pton(AF_INET6, base, &address) == 1 else { return nil }
      return withUnsafeBytes(of: &address) { raw in
        var high: UInt64 = 0
        var low: UInt64 = 0
        for index in 0..<8 {
          high = high << 8 | UInt64(raw[index])
          low = low << 8 | UInt64(raw[8 + index])
        }
        return AddressKey(high: high, low: low)
      }
    }
  }

  var isIPv4Mapped: Bool { high == Self.mappedHigh && low >> 32 == Self.mappedLowTag >> 32 }

  /// The address with every bit after `prefixLength` (0...128) cleared.
  func masked(to prefixLength: Int) -> AddressKey {
    switch prefixLength {
    case ...0: return AddressKey(high: 0, low: 0)
    case 1..<64: return AddressKey(high: high & ~(UInt64.max >> UInt64(prefixLength)), low: 0)
    case 64: return AddressKey(high: high, low: 0)
    case 65..<128: return AddressKey(high: high, low: low & ~(UInt64.max >> UInt64(prefixLength - 64)))
    default: return self
    }
  }

  /// Canonical text: dotted quad for IPv4 (and IPv4-mapped IPv6), RFC 5952 for IPv6.
  var text: String {
    if isIPv4Mapped {
      let v4 = UInt32(truncatingIfNeeded: low)
      return "\(v4 >> 24).\(v4 >> 16 & 0xFF).\(v4 >> 8 & 0xFF).\(v4 & 0xFF)"
    }
    var address = in6_addr()
    withUnsafeMutableBytes(of: &address) { raw in
      for index in 0..<8 {
        raw[index] = UInt8(truncatingIfNeeded: high >> UInt64(56 - 8 * index))
        raw[8 + index] = UInt8(truncatingIfNeeded: low >> UInt64(56 - 8 * index))
      }
    }
    var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
    guard inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count)) != nil else { return "::" }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
}
