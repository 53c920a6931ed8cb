import CZlib
import RemitEngine

/// A `content-encoding` body. The first byte picks a mode:
/// - even: the rest is decoded as gzip and as deflate, complete and truncated; whatever comes out
///   stays inside the size and ratio limits.
/// - odd: the rest is compressed by zlib's own encoder (the reference) as gzip, zlib-wrapped or raw
///   deflate, optionally as two gzip members; decoding must give back exactly the rest, and a cut
///   stream decoded with truncation allowed must give a prefix of it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBodyDecoder(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
  let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
  guard let mode = bytes.first else { return 0 }
  let rest = Array(bytes.dropFirst())
  let limits = BodyDecoder.Limits(maximumDecodedBytes: 1 << 20, maximumRatio: 1000, maximumMembers: 4)
  let decoder = BodyDecoder(limits: limits)
  if mode & 1 == 0 {
    for encoding in [BodyDecoder.Encoding.gzip, .deflate] {
      for acceptTruncated in [false, true] {
        if case .success(let decoded) = decoder.decode(rest, encoding: encoding, acceptTruncated: acceptTruncated) {
          guard decoded.count <= limits.maximumDecodedBytes, decoded.count <= max(rest.count, 1) * limits.maximumRatio
          else { fatalError("a decoded body is over the limits") }
        }
      }
    }
    return 0
  }
  // 15 + 16: gzip; 15: zlib; -15: raw deflate.
  let windowBits: Int32 = [15 + 16, 15, -15][Int(mode >> 1) % 3]
  var encoded = compress(rest, windowBits: windowBits)
  var expected = rest
  if windowBits == 15 + 16, mode & 0x80 != 0 {
    // Two members, as a client may send them; the second must not be skipped.
    encoded += compress(rest.reversed(), windowBits: windowBits)
    expected += rest.reversed()
  }
  let encoding: BodyDecoder.Encoding = windowBits == 15 + 16 ? .gzip : .deflate
  switch decoder.decode(encoded, encoding: encoding, acceptTruncated: false) {
  case .success(let decoded):
    guard decoded == expected else { fatalError("decoding zlib's own output did not give back the input") }
  case .failure(let failure):
    // Only the limits may refuse a well-formed stream.
    guard expected.count > limits.maximumDecodedBytes || expected.count > encoded.count * limits.maximumRatio else {
      fatalError("a well-formed \(encoding) stream was refused: \(failure)")
    }
  }
  let cut = Int(mode >> 3) % max(encoded.count, 1)
  if case .success(let partial) = decoder.decode(Array(encoded[..<cut]), encoding: encoding, acceptTruncated: true) {
    guard partial.count <= expected.count, Array(expected[..<partial.count]) == partial else {
      fatalError("a truncated stream decoded to something that is not a prefix of the input")
    }
  }
  return 0
}

/// zlib's encoder, the reference the decoder is checked against.
func compress(_ input: [UInt8], windowBits: Int32) -> [UInt8] {
  var stream = z_stream()
  guard remit_deflateInit2(&stream, Z_DEFAULT_COMPRESSION, windowBits) == Z_OK else {
    fatalError("deflateInit2 failed")
  }
  defer { deflateEnd(&stream) }
  var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(input.count))) + 64)
  var input = input
  let produced = input.withUnsafeMutableBufferPointer { source in
    output.withUnsafeMutableBufferPointer { destination in
      stream.next_in = source.baseAddress
      stream.avail_in = UInt32(source.count)
      stream.next_out = destination.baseAddress
      stream.avail_out = UInt32(destination.count)
      guard deflate(&stream, Z_FINISH) == Z_STREAM_END else { fatalError("deflate did not finish") }
      return destination.count - Int(stream.avail_out)
    }
  }
  return Array(output[..<produced])
}
