/// Networks (and single addresses as /128) in one open-addressing table keyed by masked
/// address and prefix length. A lookup probes once per distinct prefix length, longest first,
/// with a multiply-xorshift hash: `Dictionary`'s seeded SipHash cost more than the rest of an
/// address check together.
struct NetworkTable<Value: Sendable>: Sendable {
  private var highs: [UInt64] = []
  private var lows: [UInt64] = []
  private var prefixLengths: [UInt8] = []
  private var values: [Value] = []
  /// Entry index + 1; 0 is empty.
  private var slots: [Int32] = []
  private var mask = 0
  /// Distinct prefix lengths (0...128 in the IPv4-mapped space), longest first.
  private(set) var lengths: [Int] = []

  var isEmpty: Bool { values.isEmpty }

  mutating func insert(_ network: AddressKey, prefixLength: Int, _ value: Value, prefer: (Value, Value) -> Value) {
    let key = network.masked(to: prefixLength)
    if let index = find(key, prefixLength) {
      values[index] = prefer(values[index], value)
      return
    }
    highs.append(key.high)
    lows.append(key.low)
    prefixLengths.append(UInt8(prefixLength))
    values.append(value)
    if !lengths.contains(prefixLength) {
      lengths.append(prefixLength)
      lengths.sort(by: >)
    }
    if values.count * 2 > slots.count {
      slots = [Int32](repeating: 0, count: max(16, slots.count * 2))
      mask = slots.count - 1
      for index in values.indices { place(index) }
    } else {
      place(values.count - 1)
    }
  }

  /// The value of the longest listed network containing `address`.
  func longestMatch(_ address: AddressKey) -> Value? {
    guard !values.isEmpty else { return nil }
    for prefixLength in lengths {
      if let index = find(address.masked(to: prefixLength), prefixLength) { return values[index] }
    }
    return nil
  }

  private func find(_ key: AddressKey, _ prefixLength: Int) -> Int? {
    guard !slots.isEmpty else { return nil }
    var slot = Self.slot(key.high, key.low, prefixLength) & mask
    while true {
      let entry = Int(slots[slot])
      if entry == 0 { return nil }
      let index = entry - 1
      if lows[index] == key.low && highs[index] == key.high && Int(prefixLengths[index]) == prefixLength {
        return index
      }
      slot = (slot + 1) & mask
    }
  }

  private mutating func place(_ index: Int) {
    var slot = Self.slot(highs[index], lows[index], Int(prefixLengths[index])) & mask
    while slots[slot] != 0 { slot = (slot + 1) & mask }
    slots[slot] = Int32(index + 1)
  }

  @inline(__always)
  private static func slot(_ high: UInt64, _ low: UInt64, _ prefixLength: Int) -> Int {
    let multiplier: UInt64 = 0x9E37_79B9_7F4A_7C15
    var hash = (high &* multiplier ^ low) &* multiplier ^ UInt64(prefixLength)
    hash = (hash ^ (hash >> 31)) &* multiplier
    return Int(truncatingIfNeeded: hash ^ (hash >> 29))
  }
}
