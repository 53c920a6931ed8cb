import CZlib

/// Decodes a `content-encoding: gzip | x-gzip | deflate` body before any body check (SPEC section 4),
/// with bounds on the decoded size and the compression ratio so a small bomb cannot exhaust memory.
///
/// zlib is called directly rather than through a wrapper because the decoder must tell a complete
/// stream from a truncated one, and must read every gzip member: `gunzip` (and most servers) decode
/// concatenated members, so a benign first member must not hide a second one from DLP.
public struct BodyDecoder: Sendable {
  public struct Limits: Sendable {
    /// The decoded body may not be larger than this.
    public var maximumDecodedBytes: Int
    /// Nor larger than this many times the encoded body.
    public var maximumRatio: Int
    /// Concatenated gzip members read at most.
    public var maximumMembers: Int

    public init(maximumDecodedBytes: Int = 4 << 20, maximumRatio: Int = 1000, maximumMembers: Int = 16) {
      self.maximumDecodedBytes = maximumDecodedBytes
      self.maximumRatio = maximumRatio
      self.maximumMembers = maximumMembers
    }
  }

  public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
  }

  public enum Encoding: String, Sendable {
    case gzip
    case deflate

    /// Parses a `content-encoding` value (already lower-cased and trimmed). Several codings
    /// (`gzip, br`) are not supported: the authorizer cannot read what it cannot decode.
    public init?(contentEncoding: String) {
      switch contentEncoding {
      case "gzip", "x-gzip": self = .gzip
      case "deflate": self = .deflate
      default: return nil
      }
    }
  }

  public let limits: Limits

  public init(limits: Limits = .init()) {
    self.limits = limits
  }

  /// The decoded body. With `acceptTruncated` (the body was cut by Envoy and the policy inspects
  /// partial bodies) a stream that ends early yields what could be decoded; otherwise it fails.
  public func decode(_ body: [UInt8], encoding: Encoding, acceptTruncated: Bool) -> Result<[UInt8], Failure> {
    let limit = min(
      limits.maximumDecodedBytes, max(body.count, 1).multipliedReportingOverflow(by: limits.maximumRatio).partialValue)
    switch encoding {
    case .gzip:
      return inflate(body, windowBits: 15 + 16, limit: limit, acceptTruncated: acceptTruncated, name: "gzip")
    case .deflate:
      // RFC 9110 `deflate` is the zlib format, but some clients send raw deflate: a valid zlib
      // header (deflate method, check bits) tells which.
      let isZlib = body.count >= 2 && body[0] & 0x0F == 8 && (Int(body[0]) << 8 | Int(body[1])) % 31 == 0
      return inflate(
        body, windowBits: isZlib ? 15 : -15, limit: limit, acceptTruncated: acceptTruncated, name: "deflate")
    }
  }

  private func inflate(_ body: [UInt8], windowBits: Int32, limit: Int, acceptTruncated: Bool, name: String)
    -> Result<[UInt8], Failure>
  {
    if body.isEmpty { return .success([]) }
    var stream = z_stream()
    guard remit_inflateInit2(&stream, windowBits) == Z_OK else {
      return .failure(Failure(reason: "\(name) decoder could not start"))
    }
    defer { inflateEnd(&stream) }

    var output: [UInt8] = []
    output.reserveCapacity(min(limit, max(body.count * 4, 4096)))
    var chunk = [UInt8](repeating: 0, count: 16 * 1024)
    var members = 1
    return body.withUnsafeBufferPointer { input -> Result<[UInt8], Failure> in
      guard let base = input.baseAddress else { return .success([]) }
      stream.next_in = UnsafeMutablePointer(mutating: base)
      stream.avail_in = UInt32(input.count)
      while true {
        let status = chunk.withUnsafeMutableBufferPointer { buffer -> Int32 in
          stream.next_out = buffer.baseAddress
          stream.avail_out = UInt32(buffer.count)
          return CZlib.inflate(&stream, Z_NO_FLUSH)
        }
        let produced = chunk.count - Int(stream.avail_out)
        if output.count + produced > limit {
          return .failure(
            Failure(
              reason:
                "decoded \(name) body exceeds \(limit) bytes (limit \(limits.maximumDecodedBytes) bytes, ratio \(limits.maximumRatio))"
            ))
        }
        output.append(contentsOf: chunk[0..<produced])
        let consumed = input.count - Int(stream.avail_in)
        switch status {
        case Z_STREAM_END:
          guard stream.avail_in > 0 else { return .success(output) }
          // Another gzip member follows (or trailing bytes): read it as gunzip would.
          guard windowBits > 15 else {
            return .failure(Failure(reason: "\(name) body has \(stream.avail_in) bytes after the end of the stream"))
          }
          members += 1
          guard members <= limits.maximumMembers else {
            return .failure(Failure(reason: "gzip body has more than \(limits.maximumMembers) members"))
          }
          guard inflateReset(&stream) == Z_OK else { return .failure(Failure(reason: "gzip decoder could not reset")) }
        case Z_OK:
          continue
        case Z_BUF_ERROR:
          if stream.avail_in == 0 {
            return acceptTruncated
              ? .success(output) : .failure(Failure(reason: "\(name) stream is truncated at byte \(consumed)"))
          }
        // Output space was the limit; loop for more.
        case Z_DATA_ERROR, Z_NEED_DICT:
          return .failure(Failure(reason: "\(name) data is corrupt at byte \(consumed)"))
        default:
          return .failure(Failure(reason: "\(name) decoder failed (zlib status \(status))"))
        }
      }
    }
  }
}
