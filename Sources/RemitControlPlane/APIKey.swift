import Crypto

/// What a key may do. A reader may read everything, an authorizer may only fetch the snapshot,
/// an admin may do everything in its tenant.
public enum APIKeyRole: String, Codable, Sendable, CaseIterable {
  case admin
  case authorizer
  case reader
}

/// API key values: `remit_` and 32 random bytes in base64url. Only the SHA-256 is stored.
public enum APIKey {
  public static let prefix = "remit_"

  public static func generate() -> String {
    var generator = SystemRandomNumberGenerator()
    let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    return prefix + base64URL(bytes)
  }

  /// Lower-case hex SHA-256 of the key's UTF-8 bytes.
  public static func hash(_ key: String) -> String {
    let digest = SHA256.hash(data: Array(key.utf8))
    let hex: [UInt8] = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    text.reserveCapacity(64)
    for byte in digest {
      text.append(hex[Int(byte >> 4)])
      text.append(hex[Int(byte & 0x0F)])
    }
    return String(decoding: text, as: UTF8.self)
  }

  /// A key has the prefix and a bounded length; anything else is rejected before hashing.
  public static func isWellFormed(_ key: String) -> Bool {
    key.hasPrefix(prefix) && key.utf8.count <= 256
  }

  static func base64URL(_ bytes: [UInt8]) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    var output: [UInt8] = []
    output.reserveCapacity((bytes.count * 4 + 2) / 3)
    var index = 0
    while index + 3 <= bytes.count {
      let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
      for shift in [18, 12, 6, 0] { output.append(alphabet[Int((value >> UInt32(shift)) & 0x3F)]) }
      index += 3
    }
    let remaining = bytes.count - index
    if remaining > 0 {
      var value = UInt32(bytes[index]) << 16
      if remaining == 2 { value |= UInt32(bytes[index + 1]) << 8 }
      let characters = remaining == 1 ? 2 : 3
      for shift in [18, 12, 6].prefix(characters) { output.append(alphabet[Int((value >> UInt32(shift)) & 0x3F)]) }
    }
    return String(decoding: output, as: UTF8.self)
  }
}
