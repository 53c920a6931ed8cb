extension PolicySnapshot {
  /// A principal as a table key: equal when the bytes are equal (not Unicode-canonically, as
  /// `String` compares), hashed from one 64-bit digest of the bytes. Two lookups of a ~50-byte
  /// SPIFFE ID per decision were a third of the engine's hashing with `String`'s own hash, which
  /// feeds every byte through the seeded hasher; the digest is mixed eight bytes at a time and
  /// then hashed once. The keys are the policy's own principals (the administrator's), so their
  /// digests are not chosen by a caller; a caller's principal can only probe them.
  struct PrincipalKey: Hashable, Sendable {
    let principal: String

    init(_ principal: String) {
      self.principal = principal
    }

    static func == (lhs: PrincipalKey, rhs: PrincipalKey) -> Bool {
      PolicySnapshot.sameBytes(lhs.principal, rhs.principal)
    }

    func hash(into hasher: inout Hasher) {
      var principal = principal
      hasher.combine(principal.withUTF8 { Self.digest($0) })
    }

    /// A 64-bit mix of every byte and the length (multiply and xor-shift per eight bytes).
    static func digest(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
      var hash = UInt64(truncatingIfNeeded: bytes.count) &* 0x9E37_79B9_7F4A_7C15
      guard let base = bytes.baseAddress else { return hash }
      let raw = UnsafeRawPointer(base)
      var index = 0
      while index &+ 8 <= bytes.count {
        hash = mix(hash ^ UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)))
        index &+= 8
      }
      if index < bytes.count {
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.count {
          tail |= UInt64(base[index]) &<< shift
          shift &+= 8
          index &+= 1
        }
        hash = mix(hash ^ tail)
      }
      return hash
    }

    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
      var value = value &* 0xBF58_476D_1CE4_E5B9
      value ^= value &>> 31
      return value &* 0x94D0_49BB_1331_11EB
    }
  }
}
