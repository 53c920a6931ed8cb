import CZlib

/// Test bodies compressed with the system zlib: gzip (windowBits 31), zlib (15) or raw deflate (-15).
enum Compression {
  static func compress(_ input: [UInt8], windowBits: Int32) -> [UInt8] {
    var stream = z_stream()
    guard remit_deflateInit2(&stream, 6, windowBits) == Z_OK else { return [] }
    defer { deflateEnd(&stream) }
    var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(input.count))) + 64)
    var input = input
    let produced = input.withUnsafeMutableBufferPointer { source in
      output.withUnsafeMutableBufferPointer { target -> Int in
        stream.next_in = source.baseAddress
        stream.avail_in = UInt32(source.count)
        stream.next_out = target.baseAddress
        stream.avail_out = UInt32(target.count)
        _ = deflate(&stream, Z_FINISH)
        return target.count - Int(stream.avail_out)
      }
    }
    return Array(output[0..<produced])
  }

  static func gzip(_ text: String) -> [UInt8] { compress(Array(text.utf8), windowBits: 31) }
  static func zlib(_ text: String) -> [UInt8] { compress(Array(text.utf8), windowBits: 15) }
  static func rawDeflate(_ text: String) -> [UInt8] { compress(Array(text.utf8), windowBits: -15) }
}
