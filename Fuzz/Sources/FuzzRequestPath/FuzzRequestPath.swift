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

/// SPEC section 4 written out step by step on characters: cut the query and fragment; refuse
/// anything but visible ASCII, backslashes, bad or separator escapes; decode escapes of unreserved
/// characters only; refuse `.` and `..` segments.
func referenceHygienic(_ raw: String) -> String? {
  let path = raw.prefix { $0 != "?" && $0 != "#" }
  guard path.hasPrefix("/"), path.utf8.count <= 8192 else { return nil }
  let characters = Array(path)
  let unreserved = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
  var output = ""
  var index = 0
  while index < characters.count {
    let character = characters[index]
    guard character.isASCII, let ascii = character.asciiValue, ascii > 0x20, ascii < 0x7F, character != "\\" else {
      return nil
    }
    if character != "%" {
      output.append(character)
      index += 1
      continue
    }
    guard index + 2 < characters.count, let high = hexValue(characters[index + 1]),
      let low = hexValue(characters[index + 2])
    else { return nil }
    let decoded = Character(Unicode.Scalar(high * 16 + low))
    if decoded == "/" || decoded == "\\" || decoded == "\0" { return nil }
    if unreserved.contains(decoded) {
      output.append(decoded)
    } else {
      output.append(contentsOf: characters[index...index + 2].map(String.init).joined())
    }
    index += 3
  }
  let segments = output.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
  if segments.contains(where: { $0 == "." || $0 == ".." }) { return nil }
  return output
}

func hexValue(_ character: Character) -> UInt8? {
  guard character.isASCII, let hex = character.hexDigitValue else { return nil }
  return UInt8(hex)
}
