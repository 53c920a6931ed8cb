import RemitEngine

/// A `:path`: path hygiene must agree with a plain reference on what it accepts and what path it
/// matches routes against, and must be idempotent (a hygienic path reads back as itself), which is
/// what rules out a second decoding reaching a different route.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequestPath(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
  let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
  let hygienic = try? RequestPath.hygienic(text).get()
  let expected = referenceHygienic(text)
  guard hygienic == expected else {
    fatalError(
      "path hygiene and the reference disagree: \(String(describing: hygienic)) vs \(String(describing: expected))")
  }
  if let hygienic {
    guard (try? RequestPath.hygienic(hygienic).get()) == hygienic else {
      fatalError("a hygienic path does not read back as itself")
    }
    guard hygienic.utf8.count <= text.utf8.count else { fatalError("hygiene made a path longer") }
  }
  return 0
}

/// SPEC section 4 written out step by step on Unicode scalars: cut the query and fragment; refuse
/// anything but visible ASCII, backslashes, bad or separator escapes; decode escapes of unreserved
/// characters only; refuse `.` and `..` segments. Scalars, not `Character`s: a request target is
/// bytes, and as a grapheme cluster `?` followed by a combining mark is not `?` (the fuzzer found
/// that `/?\u{33E}` hid its query from a reference written on characters).
func referenceHygienic(_ raw: String) -> String? {
  let scalars = Array(raw.unicodeScalars.prefix { $0 != "?" && $0 != "#" })
  guard scalars.first == "/", scalars.reduce(0, { $0 + UTF8.width($1) }) <= 8192 else { return nil }
  let unreserved = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~".unicodeScalars)
  var output = String.UnicodeScalarView()
  var index = 0
  while index < scalars.count {
    let scalar = scalars[index]
    guard scalar.value > 0x20, scalar.value < 0x7F, scalar != "\\" else { return nil }
    if scalar != "%" {
      output.append(scalar)
      index += 1
      continue
    }
    guard index + 2 < scalars.count, let high = hexValue(scalars[index + 1]), let low = hexValue(scalars[index + 2])
    else { return nil }
    let decoded = Unicode.Scalar(high * 16 + low)
    if decoded == "/" || decoded == "\\" || decoded == "\0" { return nil }
    if unreserved.contains(decoded) {
      output.append(decoded)
    } else {
      output.append(contentsOf: scalars[index...index + 2])
    }
    index += 3
  }
  let path = String(output)
  let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
  if segments.contains(where: { $0 == "." || $0 == ".." }) { return nil }
  return path
}

func hexValue(_ scalar: Unicode.Scalar) -> UInt8? {
  guard scalar.isASCII, let hex = Character(scalar).hexDigitValue else { return nil }
  return UInt8(hex)
}
