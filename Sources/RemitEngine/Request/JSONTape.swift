#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A strict, bounded JSON parser (RFC 8259) that records the document as a flat tape of nodes
/// pointing into the original bytes. Strings are validated (UTF-8, escapes, surrogates) but only
/// decoded when asked for, so extracting a tool name from a 1 KiB body costs one pass and a
/// handful of small allocations. Written by hand because it is on the hot path.
///
/// Bounds: nesting depth, node count and the caller's body size limit. Duplicate keys in any
/// object are rejected: a tool would see one of them, and the authorizer must not guess which.
public struct JSONTape: Sendable {
  public enum Kind: UInt8, Sendable {
    case object, array, string, number, `true`, `false`, null
  }

  public struct Node: Sendable {
    public var kind: Kind
    /// A string that contains escapes and must be decoded before comparison.
    public var escaped: Bool
    /// For strings the content between the quotes; for other values the whole token.
    public var start: Int32
    public var end: Int32
    /// Index of the node after this subtree.
    public var next: Int32
    /// Children: elements of an array, keys plus values of an object.
    public var count: Int32
  }

  public struct Limits: Sendable {
    public var maximumDepth: Int
    public var maximumNodes: Int

    public init(maximumDepth: Int = 64, maximumNodes: Int = 100_000) {
      self.maximumDepth = maximumDepth
      self.maximumNodes = maximumNodes
    }
  }

  public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
    public var offset: Int
    public var reason: String
    public var description: String { "\(reason) at byte \(offset)" }
  }

  public let bytes: [UInt8]
  public private(set) var nodes: [Node]
  /// Whether any string (key or value) has an escape: when none has, every string's text is its
  /// raw bytes and walks that look only at decoded text can be skipped.
  public let hasEscapedStrings: Bool

  public init(parsing bytes: [UInt8], limits: Limits = Limits()) throws(Failure) {
    self.bytes = bytes
    // Typical JSON has about one node per 8 bytes; a denser document is parsed again with room
    // for its worst case, one node per byte (every value takes at least one). The first tape is
    // capped (8,192 nodes, 160 KiB) so a large body does not reserve a large tape up front; only
    // a document that really has more values pays for a second pass.
    let estimate = min(bytes.count / 4 + 16, 8192, limits.maximumNodes)
    if let parsed = try Self.parse(bytes, limits: limits, capacity: estimate) {
      (nodes, hasEscapedStrings) = parsed
    } else if let parsed = try Self.parse(bytes, limits: limits, capacity: min(bytes.count, limits.maximumNodes) + 1) {
      (nodes, hasEscapedStrings) = parsed
    } else {
      throw Failure(offset: 0, reason: "too many JSON values")
    }
  }

  /// Parses into an array of `capacity` nodes, written in place; nil when they do not fit.
  private static func parse(_ bytes: [UInt8], limits: Limits, capacity: Int) throws(Failure) -> ([Node], Bool)? {
    var failure: Failure?
    var outOfCapacity = false
    var sawEscape = false
    let nodes = [Node](unsafeUninitializedCapacity: max(capacity, 1)) { buffer, initialized in
      guard let base = buffer.baseAddress else {
        outOfCapacity = true
        return
      }
      bytes.withUnsafeBufferPointer { input in
        var parser = Parser(limits: limits, nodes: base, capacity: buffer.count)
        do throws(Failure) {
          try parser.parseDocument(input)
        } catch {
          failure = error
        }
        // Nodes are written in order, so the first `count` are initialized (`Node` is trivial).
        initialized = parser.count
        outOfCapacity = parser.outOfCapacity
        sawEscape = parser.sawEscape
      }
    }
    if outOfCapacity { return nil }
    if let failure { throw failure }
    return (nodes, sawEscape)
  }

  public var root: Int { 0 }

  public subscript(index: Int) -> Node { nodes[index] }

  /// The children of an array, or the keys and values of an object alternately.
  public func children(of index: Int) -> ChildSequence {
    ChildSequence(tape: self, first: index + 1, count: Int(nodes[index].count))
  }

  public struct ChildSequence: Sequence {
    let tape: JSONTape
    let first: Int
    let count: Int

    public func makeIterator() -> Iterator { Iterator(tape: tape, position: first, remaining: count) }

    public struct Iterator: IteratorProtocol {
      let tape: JSONTape
      var position: Int
      var remaining: Int

      public mutating func next() -> Int? {
        guard remaining > 0 else { return nil }
        let current = position
        position = Int(tape.nodes[current].next)
        remaining -= 1
        return current
      }
    }
  }

  /// The value of `key` in the object at `index`, if any.
  public func value(forKey key: String, inObject index: Int) -> Int? {
    var key = key
    return key.withUTF8 { value(forKey: $0, inObject: index) }
  }

  /// `value(forKey:inObject:)` for a key known when compiling: no `String` per comparison.
  public func value(forKey key: StaticString, inObject index: Int) -> Int? {
    key.withUTF8Buffer { value(forKey: $0, inObject: index) }
  }

  func value(forKey key: UnsafeBufferPointer<UInt8>, inObject index: Int) -> Int? {
    guard nodes[index].kind == .object else { return nil }
    var iterator = children(of: index).makeIterator()
    while let keyIndex = iterator.next(), let valueIndex = iterator.next() {
      if stringEquals(keyIndex, utf8: key) { return valueIndex }
    }
    return nil
  }

  /// The decoded text of a string node.
  public func string(_ index: Int) -> String {
    let node = nodes[index]
    let range = Int(node.start)..<Int(node.end)
    guard node.escaped else { return String(decoding: bytes[range], as: UTF8.self) }
    return String(decoding: JSONTape.unescape(bytes[range]), as: UTF8.self)
  }

  /// The raw JSON text of any node (for strings, including the quotes).
  public func rawText(_ index: Int) -> String {
    let node = nodes[index]
    let range = node.kind == .string ? Int(node.start) - 1..<Int(node.end) + 1 : Int(node.start)..<Int(node.end)
    return String(decoding: bytes[range], as: UTF8.self)
  }

  /// Whether the string node at `index` decodes to `text`.
  public func stringEquals(_ index: Int, _ text: String) -> Bool {
    var text = text
    return text.withUTF8 { stringEquals(index, utf8: $0) }
  }

  /// `stringEquals(_:_:)` for text known when compiling.
  public func stringEquals(_ index: Int, _ text: StaticString) -> Bool {
    text.withUTF8Buffer { stringEquals(index, utf8: $0) }
  }

  func stringEquals(_ index: Int, utf8 expected: UnsafeBufferPointer<UInt8>) -> Bool {
    let node = nodes[index]
    guard node.kind == .string else { return false }
    let range = Int(node.start)..<Int(node.end)
    if node.escaped { return JSONTape.unescape(bytes[range]).elementsEqual(expected) }
    // Lengths first: most keys differ in length from the one asked for.
    guard range.count == expected.count else { return false }
    return bytes.withUnsafeBufferPointer { all in
      guard let base = all.baseAddress, let other = expected.baseAddress else { return range.isEmpty }
      return memcmp(base + range.lowerBound, other, range.count) == 0
    }
  }

  static func unescape(_ raw: ArraySlice<UInt8>) -> [UInt8] {
    var output: [UInt8] = []
    output.reserveCapacity(raw.count)
    var index = raw.startIndex
    while index < raw.endIndex {
      let byte = raw[index]
      guard byte == UInt8(ascii: "\\") else {
        output.append(byte)
        index += 1
        continue
      }
      let escape = raw[index + 1]
      index += 2
      switch escape {
      case UInt8(ascii: "b"): output.append(0x08)
      case UInt8(ascii: "f"): output.append(0x0C)
      case UInt8(ascii: "n"): output.append(0x0A)
      case UInt8(ascii: "r"): output.append(0x0D)
      case UInt8(ascii: "t"): output.append(0x09)
      case UInt8(ascii: "u"):
        var scalar = hex4(raw, index)
        index += 4
        if scalar >= 0xD800 && scalar < 0xDC00 {
          // Validated by the parser: a low surrogate escape follows.
          let low = hex4(raw, index + 2)
          index += 6
          scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        }
        if let unicode = Unicode.Scalar(scalar) { output.append(contentsOf: Array(String(Character(unicode)).utf8)) }
      default: output.append(escape)
      }
    }
    return output
  }

  static func hex4(_ raw: ArraySlice<UInt8>, _ index: Int) -> UInt32 {
    var value: UInt32 = 0
    for offset in 0..<4 { value = value << 4 | UInt32(RequestPath.hexValue(raw[index + offset]) ?? 0) }
    return value
  }
}

extension JSONTape {
  struct Parser {
    let limits: Limits
    /// The tape being written: `count` nodes of `capacity`.
    let nodes: UnsafeMutablePointer<Node>
    let capacity: Int
    var count = 0
    /// The nodes did not fit in `capacity` (the caller parses again with more room).
    var outOfCapacity = false
    var position = 0
    var sawEscape = false

    init(limits: Limits, nodes: UnsafeMutablePointer<Node>, capacity: Int) {
      self.limits = limits
      self.nodes = nodes
      self.capacity = capacity
    }

    mutating func parseDocument(_ input: UnsafeBufferPointer<UInt8>) throws(Failure) {
      guard input.count < Int(Int32.max) else { throw Failure(offset: 0, reason: "document too large") }
      skipWhitespace(input)
      try parseValue(input, depth: 0)
      skipWhitespace(input)
      guard position == input.count else { throw Failure(offset: position, reason: "unexpected data after the value") }
    }

    mutating func skipWhitespace(_ input: UnsafeBufferPointer<UInt8>) {
      while position < input.count {
        switch input[position] {
        case 0x20:
          position &+= 1
          // A run of spaces (indentation, padding) goes eight at a time.
          if let base = input.baseAddress {
            while position &+ 8 <= input.count
              && UnsafeRawPointer(base + position).loadUnaligned(as: UInt64.self) == 0x2020_2020_2020_2020
            {
              position &+= 8
            }
          }
        case 0x09, 0x0A, 0x0D: position &+= 1
        default: return
        }
      }
    }

    /// Offsets fit in Int32: `parseDocument` refuses larger documents.
    @inline(__always)
    mutating func append(_ kind: Kind, start: Int, end: Int, escaped: Bool = false) throws(Failure) -> Int {
      guard count < limits.maximumNodes else { throw Failure(offset: start, reason: "too many JSON values") }
      guard count < capacity else {
        outOfCapacity = true
        throw Failure(offset: start, reason: "too many JSON values")
      }
      let index = count
      (nodes + index).initialize(
        to: Node(
          kind: kind, escaped: escaped, start: Int32(truncatingIfNeeded: start), end: Int32(truncatingIfNeeded: end),
          next: Int32(truncatingIfNeeded: index &+ 1), count: 0))
      count = index &+ 1
      return index
    }

    mutating func parseValue(_ input: UnsafeBufferPointer<UInt8>, depth: Int) throws(Failure) {
      guard position < input.count else { throw Failure(offset: position, reason: "unexpected end of input") }
      switch input[position] {
      case UInt8(ascii: "{"): try parseContainer(input, depth: depth, object: true)
      case UInt8(ascii: "["): try parseContainer(input, depth: depth, object: false)
      case UInt8(ascii: "\""): try parseString(input)
      case UInt8(ascii: "t"): try parseLiteral(input, "true", .true)
      case UInt8(ascii: "f"): try parseLiteral(input, "false", .false)
      case UInt8(ascii: "n"): try parseLiteral(input, "null", .null)
      case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try parseNumber(input)
      default: throw Failure(offset: position, reason: "unexpected character")
      }
    }

    mutating func parseContainer(_ input: UnsafeBufferPointer<UInt8>, depth: Int, object: Bool) throws(Failure) {
      guard depth < limits.maximumDepth else {
        throw Failure(offset: position, reason: "nesting deeper than \(limits.maximumDepth)")
      }
      let start = position
      let index = try append(object ? .object : .array, start: start, end: start)
      position += 1
      var count: Int32 = 0
      let close = object ? UInt8(ascii: "}") : UInt8(ascii: "]")
      skipWhitespace(input)
      if position < input.count && input[position] == close {
        position += 1
      } else {
        while true {
          skipWhitespace(input)
          if object {
            guard position < input.count, input[position] == UInt8(ascii: "\"") else {
              throw Failure(offset: position, reason: "expected a string key")
            }
            try parseString(input)
            skipWhitespace(input)
            guard position < input.count, input[position] == UInt8(ascii: ":") else {
              throw Failure(offset: position, reason: "expected ':'")
            }
            position += 1
            skipWhitespace(input)
            count += 1
          }
          try parseValue(input, depth: depth + 1)
          count += 1
          skipWhitespace(input)
          guard position < input.count else { throw Failure(offset: position, reason: "unexpected end of input") }
          if input[position] == UInt8(ascii: ",") {
            position += 1
            continue
          }
          guard input[position] == close else {
            throw Failure(offset: position, reason: "expected ',' or a closing bracket")
          }
          position += 1
          break
        }
      }
      nodes[index].count = count
      nodes[index].end = Int32(truncatingIfNeeded: position)
      nodes[index].next = Int32(truncatingIfNeeded: self.count)
      if object { try rejectDuplicateKeys(input, object: index, start: start) }
    }

    func rejectDuplicateKeys(
      _ input: UnsafeBufferPointer<UInt8>,
      object index: Int,
      start: Int
    ) throws(Failure) {
      let pairs = Int(nodes[index].count) / 2
      guard pairs > 1 else { return }
      if pairs <= 16 {
        // The objects requests are made of: a fingerprint per key on the stack (length and first
        // bytes), compared pairwise; only equal fingerprints compare the keys. No allocation.
        // An object with an escaped key compares decoded keys (below).
        let duplicate = withUnsafeTemporaryAllocation(of: (key: Int, print: UInt64).self, capacity: pairs) {
          keys -> Bool? in
          var key = index + 1
          // A 64-bit set of the fingerprints' hashes: distinct keys rarely share a bit, and
          // only an object with a shared bit compares its fingerprints pairwise.
          var seen: UInt64 = 0
          var shared = false
          for pair in 0..<pairs {
            guard let print = fingerprint(input, key) else { return nil }
            keys[pair] = (key, print)
            let bit: UInt64 = 1 &<< ((print &* 0x9E37_79B9_7F4A_7C15) &>> 58)
            shared = shared || seen & bit != 0
            seen |= bit
            key = nextKey(after: key)
          }
          guard shared else { return false }
          for first in 0..<pairs {
            for second in first + 1..<pairs where keys[first].print == keys[second].print {
              if keyEquals(input, keys[first].key, keys[second].key) { return true }
            }
          }
          return false
        }
        if duplicate == true { throw Failure(offset: start, reason: "duplicate key in object") }
        if duplicate == false { return }
      }
      var seen = Set<[UInt8]>(minimumCapacity: pairs)
      var key = index + 1
      for _ in 0..<pairs {
        guard seen.insert(decodedKey(input, key)).inserted else {
          throw Failure(offset: start, reason: "duplicate key in object")
        }
        key = nextKey(after: key)
      }
    }

    /// The key of the next member, from a key node (past its value's subtree).
    @inline(__always)
    func nextKey(after key: Int) -> Int {
      let value = Int(nodes[key].next)
      return value < count ? Int(nodes[value].next) : count
    }

    /// Equal for equal keys without escapes: the length and the first seven bytes. Nil for an
    /// escaped key, whose raw bytes say nothing about its decoded text.
    @inline(__always)
    func fingerprint(_ input: UnsafeBufferPointer<UInt8>, _ key: Int) -> UInt64? {
      let node = nodes[key]
      if node.escaped { return nil }
      let start = Int(node.start)
      let length = Int(node.end) - start
      let used = min(length, 7)
      var bytes: UInt64 = 0
      if let base = input.baseAddress, start + 8 <= input.count {
        // One load; the bytes past the key are masked off.
        bytes = UInt64(littleEndian: UnsafeRawPointer(base + start).loadUnaligned(as: UInt64.self))
        bytes &= (1 << (UInt64(used) * 8)) &- 1
      } else {
        for offset in 0..<used { bytes |= UInt64(input[start + offset]) << (UInt64(offset) * 8) }
      }
      return UInt64(truncatingIfNeeded: length) << 56 | bytes
    }

    /// Keys compare by their decoded text: `"name"` and `"na\u006de"` are the same key.
    func keyEquals(_ input: UnsafeBufferPointer<UInt8>, _ first: Int, _ second: Int) -> Bool {
      let a = nodes[first]
      let b = nodes[second]
      if !a.escaped && !b.escaped {
        guard a.end - a.start == b.end - b.start else { return false }
        guard let base = input.baseAddress else { return true }
        return memcmp(base + Int(a.start), base + Int(b.start), Int(a.end - a.start)) == 0
      }
      return decodedKey(input, first) == decodedKey(input, second)
    }

    func decodedKey(_ input: UnsafeBufferPointer<UInt8>, _ index: Int) -> [UInt8] {
      let node = nodes[index]
      let raw = ArraySlice(input[Int(node.start)..<Int(node.end)])
      return node.escaped ? JSONTape.unescape(raw) : Array(raw)
    }

    mutating func parseLiteral(_ input: UnsafeBufferPointer<UInt8>, _ literal: StaticString, _ kind: Kind)
      throws(Failure)
    {
      let length = literal.utf8CodeUnitCount
      guard position + length <= input.count else { throw Failure(offset: position, reason: "unexpected end of input") }
      let matches = literal.withUTF8Buffer { expected in
        (0..<length).allSatisfy { input[position + $0] == expected[$0] }
      }
      guard matches else { throw Failure(offset: position, reason: "invalid literal") }
      _ = try append(kind, start: position, end: position + length)
      position += length
    }

    mutating func parseNumber(_ input: UnsafeBufferPointer<UInt8>) throws(Failure) {
      let start = position
      func digits(_ position: inout Int) -> Int {
        let begin = position
        while position < input.count, input[position] >= UInt8(ascii: "0"), input[position] <= UInt8(ascii: "9") {
          position += 1
        }
        return position - begin
      }
      if input[position] == UInt8(ascii: "-") { position += 1 }
      guard position < input.count else { throw Failure(offset: position, reason: "invalid number") }
      if input[position] == UInt8(ascii: "0") {
        position += 1
      } else if digits(&position) == 0 {
        throw Failure(offset: position, reason: "invalid number")
      }
      if position < input.count, input[position] == UInt8(ascii: ".") {
        position += 1
        guard digits(&position) > 0 else { throw Failure(offset: position, reason: "invalid number") }
      }
      if position < input.count, input[position] == UInt8(ascii: "e") || input[position] == UInt8(ascii: "E") {
        position += 1
        if position < input.count, input[position] == UInt8(ascii: "+") || input[position] == UInt8(ascii: "-") {
          position += 1
        }
        guard digits(&position) > 0 else { throw Failure(offset: position, reason: "invalid number") }
      }
      _ = try append(.number, start: start, end: position)
    }

    mutating func parseString(_ input: UnsafeBufferPointer<UInt8>) throws(Failure) {
      let start = position &+ 1
      // The scan position lives in a register; `position` is written back around the calls that use it.
      var index = start
      var escaped = false
      while true {
        index = Self.skipPlainASCII(input, from: index)
        guard index < input.count else { throw Failure(offset: index, reason: "unterminated string") }
        let byte = input[index]
        switch byte {
        case UInt8(ascii: "\""):
          position = index &+ 1
          _ = try append(.string, start: start, end: index, escaped: escaped)
          return
        case UInt8(ascii: "\\"):
          escaped = true
          sawEscape = true
          position = index
          try parseEscape(input)
          index = position
        case 0x00..<0x20:
          throw Failure(offset: index, reason: "control character in string")
        case 0x20..<0x80:
          index &+= 1
        default:
          position = index
          try parseUTF8Sequence(input)
          index = position
        }
      }
    }

    /// Skips eight bytes at a time while none of them ends the run of plain string text: a quote,
    /// a backslash, a control character or a non-ASCII byte. The byte loop decides the rest.
    @inline(__always)
    static func skipPlainASCII(_ input: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
      guard let base = input.baseAddress else { return start }
      let raw = UnsafeRawPointer(base)
      var index = start
      while index &+ 8 <= input.count {
        let word = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: index, as: UInt64.self))
        let special = Self.stringSpecialBytes(word)
        if special != 0 {
          // The lowest flagged byte is exact (borrows only run upwards): stop right on it.
          return index &+ special.trailingZeroBitCount &>> 3
        }
        index &+= 8
      }
      return index
    }

    /// The high bit of each byte of `word` that is `"`, `\`, below 0x20 or above 0x7F, read as
    /// bytes in memory order from the low end; exact for the lowest one, above it a byte may be flagged falsely.
    @inline(__always)
    static func stringSpecialBytes(_ word: UInt64) -> UInt64 {
      let ones: UInt64 = 0x0101_0101_0101_0101
      let highs: UInt64 = 0x8080_8080_8080_8080
      let quote = word ^ (ones &* 0x22)
      let backslash = word ^ (ones &* 0x5C)
      let hasQuote = (quote &- ones) & ~quote
      let hasBackslash = (backslash &- ones) & ~backslash
      let hasControl = (word &- ones &* 0x20) & ~word
      return (hasQuote | hasBackslash | hasControl | word) & highs
    }

    mutating func parseEscape(_ input: UnsafeBufferPointer<UInt8>) throws(Failure) {
      guard position + 1 < input.count else { throw Failure(offset: position, reason: "unterminated escape") }
      switch input[position + 1] {
      case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
        UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
        position += 2
      case UInt8(ascii: "u"):
        let unit = try hexEscape(input, at: position)
        position += 6
        if unit >= 0xDC00 && unit < 0xE000 { throw Failure(offset: position - 6, reason: "unpaired surrogate escape") }
        if unit >= 0xD800 && unit < 0xDC00 {
          guard position + 1 < input.count, input[position] == UInt8(ascii: "\\"),
            input[position + 1] == UInt8(ascii: "u")
          else { throw Failure(offset: position, reason: "unpaired surrogate escape") }
          let low = try hexEscape(input, at: position)
          guard low >= 0xDC00 && low < 0xE000 else {
            throw Failure(offset: position, reason: "unpaired surrogate escape")
          }
          position += 6
        }
        if unit == 0 { throw Failure(offset: position - 6, reason: "NUL escape in string") }
      default:
        throw Failure(offset: position, reason: "invalid escape")
      }
    }

    func hexEscape(_ input: UnsafeBufferPointer<UInt8>, at index: Int) throws(Failure) -> UInt32 {
      guard index + 6 <= input.count else { throw Failure(offset: index, reason: "short unicode escape") }
      var value: UInt32 = 0
      for offset in 2..<6 {
        guard let digit = RequestPath.hexValue(input[index + offset]) else {
          throw Failure(offset: index, reason: "invalid unicode escape")
        }
        value = value << 4 | UInt32(digit)
      }
      return value
    }

    /// Validates one multi-byte UTF-8 sequence: no overlong forms, no surrogates, ≤ U+10FFFF.
    mutating func parseUTF8Sequence(_ input: UnsafeBufferPointer<UInt8>) throws(Failure) {
      let lead = input[position]
      let length: Int
      var lowerBound: UInt8 = 0x80
      var upperBound: UInt8 = 0xBF
      switch lead {
      case 0xC2...0xDF: length = 2
      case 0xE0: length = 3; lowerBound = 0xA0
      case 0xE1...0xEC, 0xEE...0xEF: length = 3
      case 0xED: length = 3; upperBound = 0x9F
      case 0xF0: length = 4; lowerBound = 0x90
      case 0xF1...0xF3: length = 4
      case 0xF4: length = 4; upperBound = 0x8F
      default: throw Failure(offset: position, reason: "invalid UTF-8")
      }
      guard position + length <= input.count else { throw Failure(offset: position, reason: "invalid UTF-8") }
      let second = input[position + 1]
      guard second >= lowerBound && second <= upperBound else {
        throw Failure(offset: position, reason: "invalid UTF-8")
      }
      for offset in 2..<max(2, length) where input[position + offset] & 0xC0 != 0x80 {
        throw Failure(offset: position, reason: "invalid UTF-8")
      }
      position += length
    }
  }
}
