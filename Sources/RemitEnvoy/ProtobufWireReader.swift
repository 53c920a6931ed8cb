/// Reads protobuf's binary wire format from a buffer, with exactly the acceptance rules of
/// SwiftProtobuf's `BinaryDecoder` (1.39), so a message either runtime takes is read the same
/// way. Every length is checked against what is left; nothing is copied.
struct ProtobufWireReader {
  typealias Failure = CheckRequestDecodingError

  enum WireType: UInt8 {
    case varint = 0, fixed64 = 1, lengthDelimited = 2, startGroup = 3, endGroup = 4, fixed32 = 5
  }

  struct Tag {
    let number: Int
    let wireType: WireType
  }

  private let bytes: UnsafeRawBufferPointer
  private var position: Int
  /// Names the message in errors.
  let message: StaticString

  init(_ bytes: UnsafeRawBufferPointer, message: StaticString) {
    self.bytes = bytes
    self.position = 0
    self.message = message
  }

  private var available: Int { bytes.count &- position }

  private func byte(at offset: Int) -> UInt8 {
    bytes.load(fromByteOffset: offset, as: UInt8.self)
  }

  func fail(_ code: Failure.Code) -> Failure { Failure(code, in: "\(message)") }

  /// The next field of a message, nil at its end. A tag is at most five bytes and fits 32 bits;
  /// field 0, wire types 6 and 7, and an end-group outside a group are errors.
  mutating func nextField() throws(Failure) -> Tag? {
    guard available > 0 else { return nil }
    let first = byte(at: position)
    guard let wireType = WireType(rawValue: first & 7) else { throw fail(.malformed) }
    var value = UInt64(first & 0x7F)
    var length = 1
    if first & 0x80 != 0 {
      while true {
        guard length < 5, available > length else { throw fail(.malformed) }
        let next = byte(at: position &+ length)
        if length == 4 && next > 15 { throw fail(.malformed) }
        value |= UInt64(next & 0x7F) &<< UInt64(7 &* length)
        length &+= 1
        if next & 0x80 == 0 { break }
      }
    }
    position &+= length
    let number = Int(value >> 3)
    guard number != 0, wireType != .endGroup else { throw fail(.malformed) }
    return Tag(number: number, wireType: wireType)
  }

  /// The next tag inside a map entry or a skipped group: any varint below 2^32 - 1 with a non-zero
  /// field number and a known wire type (end-group included); nil at the end.
  mutating func nextTag() throws(Failure) -> Tag? {
    guard available > 0 else { return nil }
    let value = try varint()
    guard value < UInt64(UInt32.max), value >> 3 != 0, let wireType = WireType(rawValue: UInt8(value & 7)) else {
      throw fail(.malformed)
    }
    return Tag(number: Int(value >> 3), wireType: wireType)
  }

  /// A varint of at most ten bytes; bits past 64 are dropped, as every runtime does.
  mutating func varint() throws(Failure) -> UInt64 {
    guard available > 0 else { throw fail(.truncated) }
    // One byte: every tag and most lengths of a CheckRequest.
    let first = byte(at: position)
    if first < 0x80 {
      position &+= 1
      return UInt64(first)
    }
    var value: UInt64 = 0
    var shift: UInt64 = 0
    var offset = position
    while true {
      guard offset < bytes.count, shift <= 63 else { throw fail(.malformed) }
      let next = byte(at: offset)
      offset &+= 1
      value |= UInt64(next & 0x7F) &<< shift
      if next & 0x80 == 0 { break }
      shift &+= 7
    }
    position = offset
    return value
  }

  /// The body of a length-delimited field (a string, bytes or a message): under 2 GiB and within
  /// what is left.
  mutating func lengthDelimited() throws(Failure) -> UnsafeRawBufferPointer {
    let length = try varint()
    guard length < 0x7FFF_FFFF else { throw fail(.malformed) }
    guard length <= UInt64(available) else { throw fail(.truncated) }
    let body = UnsafeRawBufferPointer(rebasing: bytes[position..<(position &+ Int(length))])
    position &+= Int(length)
    return body
  }

  /// A `string` field: well-formed UTF-8. (Checked here, then built by the non-generic
  /// `String(decoding:)`, which would repair what it no longer sees; `String(validating:)` costs
  /// a generic-metadata lookup per call.)
  mutating func string() throws(Failure) -> String {
    let body = try lengthDelimited()
    guard UTF8Validation.isValid(body) else { throw fail(.invalidUTF8) }
    return String(decoding: body.assumingMemoryBound(to: UInt8.self), as: UTF8.self)
  }

  /// A `string` field Remit does not read, checked as the protobuf runtime would check it.
  mutating func checkString() throws(Failure) {
    guard UTF8Validation.isValid(try lengthDelimited()) else { throw fail(.invalidUTF8) }
  }

  /// A field Remit does not read, or a known one sent with another wire type (the runtime treats
  /// both as unknown fields). `depth` is what is left of the runtime's nesting limit of 100.
  mutating func skip(_ tag: Tag, depth: Int) throws(Failure) {
    switch tag.wireType {
    case .varint:
      _ = try varint()
    case .fixed64:
      guard available >= 8 else { throw fail(.truncated) }
      position &+= 8
    case .fixed32:
      guard available >= 4 else { throw fail(.truncated) }
      position &+= 4
    case .lengthDelimited:
      let length = try varint()
      guard length <= UInt64(available) else { throw fail(.truncated) }
      position &+= Int(length)
    case .startGroup:
      guard depth > 0 else { throw fail(.tooDeep) }
      while true {
        guard let inner = try nextTag() else { throw fail(.truncated) }
        if inner.wireType == .endGroup {
          guard inner.number == tag.number else { throw fail(.malformed) }
          return
        }
        try skip(inner, depth: depth &- 1)
      }
    case .endGroup:
      throw fail(.truncated)
    }
  }
}
