/// Encoded payloads: a long base64 (standard or url-safe) or hex run is decoded, one level deep, and
/// when it reads as ASCII text it is scanned for override phrases and hidden tags. Binary data
/// (images, digests, keys) fails the printable-text gate after a few dozen bytes, so it costs little
/// and uses little of the per-call decode budget.
extension InjectionScanner {
  /// Bytes decoded for the printable-text gate before committing to a whole run.
  static let gateBytes = 36
  static let gatePrintableMinimum = 31
  /// Share of printable ASCII required in a whole decoded run, in percent.
  static let printablePercentMinimum = 90
  /// Extra start points tried inside a run (after a `/`, `_`, `-` or `+`) to skip a path or prefix.
  static let maximumRunStarts = 6

  /// The run `[start, stop)` of base64-alphabet bytes (line breaks allowed inside) ended.
  mutating func encodedRun(_ start: Int, _ stop: Int) {
    guard isOn(.encodedPayload), decodeBudget > 0, let base else { return }
    var hexStart = start
    if stop - start > 2 && base[start] == UInt8(ascii: "0") && base[start + 1] | 0x20 == UInt8(ascii: "x") {
      hexStart += 2
    }
    var hexDigits = 0
    var allHex = true
    for position in hexStart..<stop {
      let byte = base[position]
      if byte == 0x0A || byte == 0x0D { continue }
      guard Self.hexValue(byte) < 16 else {
        allHex = false
        break
      }
      hexDigits += 1
    }
    if allHex {
      if hexDigits >= Self.minimumHexRun { tryDecoded(from: hexStart, to: stop, hex: true, reportAt: start) }
      return
    }
    var candidate = start
    var tried = 0
    while candidate < stop && tried < Self.maximumRunStarts && !stopped {
      if stop - candidate < Self.minimumBase64Run { break }
      if tryDecoded(from: candidate, to: stop, hex: false, reportAt: start) { return }
      tried += 1
      // Next start: just after the next separator-like byte in the first part of the run.
      var next = candidate
      while next < stop && next - start < 64 {
        let byte = base[next]
        next += 1
        if byte == UInt8(ascii: "/") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
          || byte == UInt8(ascii: "+")
        {
          break
        }
      }
      if next >= stop || next - start >= 64 || next == candidate { break }
      candidate = next
    }
  }

  /// Decodes `[start, stop)` and scans the text. Returns whether the gate accepted the bytes as
  /// text (so no other start point needs trying).
  @discardableResult
  private mutating func tryDecoded(from start: Int, to stop: Int, hex: Bool, reportAt offset: Int) -> Bool {
    guard let base, decodeBudget > 0 else { return true }
    let maximumOutput = min(decodeBudget, hex ? (stop - start) / 2 : (stop - start) / 4 * 3 + 2)
    guard maximumOutput > 0 else { return true }
    var accepted = false
    var found = false
    var spent = 0
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maximumOutput) { output in
      guard let out = output.baseAddress else { return }
      var decoder = RunDecoder(base: base, position: start, end: stop, hex: hex)
      let gateCount = decoder.decode(into: out, capacity: min(Self.gateBytes, maximumOutput))
      spent = gateCount
      guard gateCount >= Self.gateBytes || (gateCount >= 16 && decoder.finished) else { return }
      guard Self.printableCount(out, gateCount) >= gateCount * Self.gatePrintableMinimum / Self.gateBytes else {
        return
      }
      accepted = true
      let count = gateCount + decoder.decode(into: out + gateCount, capacity: maximumOutput - gateCount)
      spent = count
      guard Self.printableCount(out, count) * 100 >= count * Self.printablePercentMinimum else { return }
      var inner = InjectionScanner(
        UnsafeBufferPointer(start: out, count: count),
        enabled: InjectionHeuristic.overridePhrase.bit | InjectionHeuristic.hiddenTag.bit,
        maximumSignals: 1, decodeBudget: 0)
      inner.scan()
      found = inner.firstSignal != nil
    }
    decodeBudget -= spent
    if found { report(.encodedPayload, at: offset) }
    return accepted
  }

  private static func printableCount(_ bytes: UnsafeMutablePointer<UInt8>, _ count: Int) -> Int {
    var printable = 0
    for index in 0..<count {
      let byte = bytes[index]
      if byte &- 0x20 < 0x5F || byte == 0x09 || byte == 0x0A || byte == 0x0D { printable += 1 }
    }
    return printable
  }

  @inline(__always) static func hexValue(_ byte: UInt8) -> UInt8 {
    if byte &- UInt8(ascii: "0") < 10 { return byte &- UInt8(ascii: "0") }
    let lower = byte | 0x20
    if lower &- UInt8(ascii: "a") < 6 { return lower &- UInt8(ascii: "a") &+ 10 }
    return 0xFF
  }
}

/// Incremental base64/hex decoding of a run, skipping line breaks, stopping at the first byte
/// outside the alphabet.
struct RunDecoder {
  let base: UnsafePointer<UInt8>
  var position: Int
  let end: Int
  let hex: Bool
  private var accumulator: UInt32 = 0
  private var bits = 0
  private(set) var finished = false

  init(base: UnsafePointer<UInt8>, position: Int, end: Int, hex: Bool) {
    self.base = base
    self.position = position
    self.end = end
    self.hex = hex
  }

  /// Appends up to `capacity` decoded bytes at `out`; returns how many.
  mutating func decode(into out: UnsafeMutablePointer<UInt8>, capacity: Int) -> Int {
    var count = 0
    let bitsPerSymbol = hex ? 4 : 6
    while count < capacity {
      guard position < end else {
        finished = true
        break
      }
      let byte = base[position]
      position += 1
      if byte == 0x0A || byte == 0x0D { continue }
      let value = hex ? InjectionScanner.hexValue(byte) : Self.base64Value(byte)
      guard value != 0xFF else {
        finished = true
        break
      }
      accumulator = accumulator << UInt32(bitsPerSymbol) | UInt32(value)
      bits += bitsPerSymbol
      if bits >= 8 {
        bits -= 8
        out[count] = UInt8(truncatingIfNeeded: accumulator >> UInt32(bits))
        count += 1
      }
    }
    if position >= end { finished = true }
    return count
  }

  @inline(__always) static func base64Value(_ byte: UInt8) -> UInt8 {
    if byte &- UInt8(ascii: "A") < 26 { return byte &- UInt8(ascii: "A") }
    if byte &- UInt8(ascii: "a") < 26 { return byte &- UInt8(ascii: "a") &+ 26 }
    if byte &- UInt8(ascii: "0") < 10 { return byte &- UInt8(ascii: "0") &+ 52 }
    switch byte {
    case UInt8(ascii: "+"), UInt8(ascii: "-"): return 62
    case UInt8(ascii: "/"), UInt8(ascii: "_"): return 63
    default: return 0xFF
    }
  }
}
