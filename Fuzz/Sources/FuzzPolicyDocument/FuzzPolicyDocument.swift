import RemitEngine

/// One policy document, YAML or JSON as `remit serve --policy` would detect it: loading,
/// validating and compiling must not crash, whatever the bytes; errors are fine.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPolicyDocument(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
  let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
  let format = PolicyDocument.Format.detect(fileName: nil, bytes: bytes)
  guard let document = try? PolicyDocument.load(bytes, format: format) else { return 0 }
  _ = try? PolicySnapshot(document)
  return 0
}
