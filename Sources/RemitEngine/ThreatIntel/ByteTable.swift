/// A hash table from byte strings to values, probed with a byte buffer so that a lookup
/// allocates nothing: the threat index walks suffixes of host names and prefixes of tool names
/// and URL paths, and `String`/`Substring` keys would hash Unicode-normalised characters or
/// allocate for each probe. Keys come from the policy, so probe runs are fixed at build time
/// and request input cannot lengthen them. Open addressing, linear probing, load <= 1/2.
struct ByteTable<Value: Sendable>: Sendable {
  private var keys: [[UInt8]] = []
  private var values: [Value] = []
  private var hashes: [UInt64] = []
  /// Entry index + 1; 0 is empty.
  private var slots: [Int32] = []
  private var mask = 0
  /// Distinct key lengths, longest first, for prefix and suffix walks.
  private(set) var lengths: [Int] = []
  private(set) var longest = 0

  var isEmpty: Bool { keys.isEmpty }
  var count: Int { keys.count }

  /// Inserts or, when the key is present, keeps whichever value `prefer(existing, new)` says.
  mutating func insert(_ key: [UInt8], _ value: Value, prefer: (Value, Value) -> Value) {
    let hash = key.withUnsafeBufferPointer { Self.hash($0) }
    if let index = key.withUnsafeBufferPointer({ find($0, hash: hash) }) {
      values[index] = prefer(values[index], value)
      return
    }
    keys.append(key)
    values.append(value)
    hashes.append(hash)
    if !lengths.contains(key.count) {
      lengths.append(key.count)
      lengths.sort(by: >)
    }
    longest = max(longest, key.count)
    if keys.count * 2 > slots.count {
      rehash(capacity: max(16, slots.count * 2))
    } else {
      place(keys.count - 1)
    }
  }

  func value(for key: UnsafeBufferPointer<UInt8>) -> Value? {
    guard !keys.isEmpty, let index = find(key, hash: Self.hash(key)) else { return nil }
    return values[index]
  }

  func value(for key: UnsafeBufferPointer<UInt8>.SubSequence) -> Value? {
    value(for: UnsafeBufferPointer(rebasing: key))
  }

  private func find(_ key: UnsafeBufferPointer<UInt8>, hash: UInt64) -> Int? {
    guard !slots.isEmpty else { return nil }
    var slot = Int(truncatingIfNeeded: hash) & mask
    while true {
      let entry = Int(slots[slot])
      if entry == 0 { return nil }
      let index = entry - 1
      if hashes[index] == hash && Self.equal(keys[index], key) { return index }
      slot = (slot + 1) & mask
    }
  }

  private mutating func rehash(capacity: Int) {
    slots = [Int32](repeating: 0, count: capacity)
    mask = capacity - 1
    for index in keys.indices { place(index) }
  }

  private mutating func place(_ index: Int) {
    var slot = Int(truncatingIfNeeded: hashes[index]) & mask
    while slots[slot] != 0 { slot = (slot + 1) & mask }
    slots[slot] = Int32(index + 1)
  }

  @inline(__always)
  private static func equal(_ stored: [UInt8], _ key: UnsafeBufferPointer<UInt8>) -> Bool {
    guard stored.count == key.count else { return false }
    return stored.withUnsafeBufferPointer { buffer in
      guard let left = buffer.baseAddress, let right = key.baseAddress else { return true }
      for offset in 0..<buffer.count where left[offset] != right[offset] { return false }
      return true
    }
  }

  /// 8 bytes at a time, multiply-xorshift mixing.
  @inline(__always)
  static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
    let multiplier: UInt64 = 0x9E37_79B9_7F4A_7C15
    var hash = UInt64(bytes.count) &* multiplier
    guard let base = bytes.baseAddress else { return hash }
    let raw = UnsafeRawPointer(base)
    var offset = 0
    while offset + 8 <= bytes.count {
      hash = (hash ^ raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* multiplier
      hash ^= hash >> 29
      offset += 8
    }
    var tail: UInt64 = 0
    var shift: UInt64 = 0
    while offset < bytes.count {
      tail |= UInt64(base[offset]) << shift
      shift += 8
      offset += 1
    }
    hash = (hash ^ tail) &* multiplier
    hash ^= hash >> 32
    return hash &* multiplier ^ (hash >> 29)
  }
}
