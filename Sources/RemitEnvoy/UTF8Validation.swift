/// Well-formed UTF-8 (Unicode 15, table 3-7): no overlong forms, no surrogates, nothing above
/// U+10FFFF. The same rule SwiftProtobuf applies to proto3 `string` fields, without building a
/// `String` for fields Remit only has to check.
enum UTF8Validation {
  static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
    guard let base = bytes.baseAddress else { return true }
    let count = bytes.count
    var index = 0
    while index < count {
      // Eight ASCII bytes at a time: the common case for header values and identifiers.
      if index &+ 8 <= count, base.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
        index &+= 8
        continue
      }
      let lead = base.load(fromByteOffset: index, as: UInt8.self)
      if lead < 0x80 {
        index &+= 1
        continue
      }
      // The second byte's range depends on the lead byte; every later byte is 80...BF.
      let length: Int
      var low: UInt8 = 0x80
      var high: UInt8 = 0xBF
      switch lead {
      case 0xC2...0xDF: length = 2
      case 0xE0: length = 3; low = 0xA0
      case 0xE1...0xEC, 0xEE...0xEF: length = 3
      case 0xED: length = 3; high = 0x9F
      case 0xF0: length = 4; low = 0x90
      case 0xF1...0xF3: length = 4
      case 0xF4: length = 4; high = 0x8F
      default: return false
      }
      guard index &+ length <= count else { return false }
      let second = base.load(fromByteOffset: index &+ 1, as: UInt8.self)
      guard second >= low, second <= high else { return false }
      var next = index &+ 2
      while next < index &+ length {
        guard base.load(fromByteOffset: next, as: UInt8.self) & 0xC0 == 0x80 else { return false }
        next &+= 1
      }
      index = next
    }
    return true
  }
}
