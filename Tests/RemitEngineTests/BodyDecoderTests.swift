import Testing

@testable import RemitEngine

@Suite struct BodyDecoderTests {
  let decoder = BodyDecoder()

  func decoded(_ result: Result<[UInt8], BodyDecoder.Failure>) -> String? {
    guard case .success(let bytes) = result else { return nil }
    return String(decoding: bytes, as: UTF8.self)
  }

  func failure(_ result: Result<[UInt8], BodyDecoder.Failure>) -> String? {
    guard case .failure(let failure) = result else { return nil }
    return failure.reason
  }

  @Test func decodesGzipZlibAndRawDeflate() {
    let text = String(repeating: "the quick brown fox ", count: 50)
    #expect(decoded(decoder.decode(Compression.gzip(text), encoding: .gzip, acceptTruncated: false)) == text)
    #expect(decoded(decoder.decode(Compression.zlib(text), encoding: .deflate, acceptTruncated: false)) == text)
    #expect(decoded(decoder.decode(Compression.rawDeflate(text), encoding: .deflate, acceptTruncated: false)) == text)
    #expect(decoded(decoder.decode([], encoding: .gzip, acceptTruncated: false)) == "")
  }

  @Test func readsEveryGzipMember() {
    // gunzip decodes concatenated members; a benign first member must not hide the second.
    let body = Compression.gzip("first ") + Compression.gzip("second")
    #expect(decoded(decoder.decode(body, encoding: .gzip, acceptTruncated: false)) == "first second")
    let many = (0..<17).flatMap { _ in Compression.gzip("x") }
    #expect(failure(decoder.decode(many, encoding: .gzip, acceptTruncated: false))?.contains("members") == true)
  }

  @Test func refusesTrailingBytesAfterADeflateStream() {
    let body = Compression.zlib("hello") + Array("trailing".utf8)
    #expect(
      failure(decoder.decode(body, encoding: .deflate, acceptTruncated: false))?.contains("after the end") == true)
  }

  @Test func truncatedStreamsFailUnlessPartialBodiesAreInspected() {
    let text = (0..<2000).map { "line \($0) of a long body\n" }.joined()
    let gzip = Compression.gzip(text)
    let cut = Array(gzip.prefix(gzip.count / 2))
    #expect(failure(decoder.decode(cut, encoding: .gzip, acceptTruncated: false))?.contains("truncated") == true)
    let prefix = decoded(decoder.decode(cut, encoding: .gzip, acceptTruncated: true))
    #expect(prefix.map { !$0.isEmpty && text.hasPrefix($0) } == true)
  }

  @Test func corruptDataFails() {
    #expect(failure(decoder.decode(Array("not gzip at all".utf8), encoding: .gzip, acceptTruncated: false)) != nil)
    var gzip = Compression.gzip(String(repeating: "abc", count: 100))
    gzip[gzip.count - 6] ^= 0xFF  // CRC-32
    #expect(failure(decoder.decode(gzip, encoding: .gzip, acceptTruncated: false)) != nil)
  }

  @Test func boundsTheDecodedSizeAndTheRatio() {
    // 8 MiB of zeros compresses to about 8 KiB: over both the 4 MiB cap and the 1000:1 ratio.
    let bomb = Compression.compress([UInt8](repeating: 0, count: 8 << 20), windowBits: 31)
    #expect(bomb.count < 16 << 10)
    #expect(failure(decoder.decode(bomb, encoding: .gzip, acceptTruncated: false))?.contains("exceeds") == true)
    // Under the absolute cap but over the ratio.
    let small = BodyDecoder(limits: .init(maximumDecodedBytes: 1 << 30, maximumRatio: 100))
    let dense = Compression.compress([UInt8](repeating: 0x41, count: 1 << 20), windowBits: 31)
    #expect(failure(small.decode(dense, encoding: .gzip, acceptTruncated: false))?.contains("exceeds") == true)
    let roomy = BodyDecoder(limits: .init(maximumDecodedBytes: 1 << 30, maximumRatio: 10_000))
    #expect(decoded(roomy.decode(dense, encoding: .gzip, acceptTruncated: false))?.utf8.count == 1 << 20)
  }

  @Test func contentEncodingNames() {
    #expect(BodyDecoder.Encoding(contentEncoding: "gzip") == .gzip)
    #expect(BodyDecoder.Encoding(contentEncoding: "x-gzip") == .gzip)
    #expect(BodyDecoder.Encoding(contentEncoding: "deflate") == .deflate)
    #expect(BodyDecoder.Encoding(contentEncoding: "br") == nil)
    #expect(BodyDecoder.Encoding(contentEncoding: "gzip, gzip") == nil)
  }
}
