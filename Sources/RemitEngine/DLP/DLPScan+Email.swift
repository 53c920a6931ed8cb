/// `local@domain.tld`, anchored on `@`.
extension DLPScan {
  /// Local part: up to 64 of `[A-Za-z0-9._%+-]`, not starting or ending with a dot. Domain: two or
  /// more labels of `[A-Za-z0-9-]` (no leading or trailing hyphen, at most 63 each, 253 in all)
  /// ending in an alphabetic TLD of 2...24 letters that is not a file extension (`logo@2x.png`).
  mutating func inspectEmail(at sign: Int) {
    var start = sign
    while start > sign - 64 && Self.isLocalPartByte(text[start - 1]) { start -= 1 }
    // A local part longer than 64 is no address; leading dots belong to the surrounding text.
    guard !Self.isLocalPartByte(text[start - 1]) else { return }
    while start < sign && text[start] == UInt8(ascii: ".") { start += 1 }
    guard start < sign, text[sign - 1] != UInt8(ascii: ".") else { return }

    var index = sign + 1
    var labelCount = 0
    var lastLabel = index..<index
    var end = sign + 1
    while index - sign <= 253 {
      let labelEnd = text.runEnd(from: index, limit: 64) { ASCII.isAlphanumeric($0) || $0 == UInt8(ascii: "-") }
      let length = labelEnd - index
      guard length >= 1, length <= 63, text[index] != UInt8(ascii: "-"), text[labelEnd - 1] != UInt8(ascii: "-")
      else { break }
      labelCount += 1
      lastLabel = index..<labelEnd
      end = labelEnd
      guard text[labelEnd] == UInt8(ascii: "."), ASCII.isAlphanumeric(text[labelEnd + 1]) else { break }
      index = labelEnd + 1
    }
    guard labelCount >= 2, lastLabel.count >= 2, lastLabel.count <= 24, !ASCII.isWord(text[end]),
      text[end] != UInt8(ascii: "@"), text.runEnd(from: lastLabel.lowerBound, limit: 24, ASCII.isLetter) == end,
      !text.isFileExtension(lastLabel)
    else { return }
    record(.email, start..<end)
  }

  @inline(__always)
  static func isLocalPartByte(_ byte: UInt8) -> Bool {
    ASCII.isAlphanumeric(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
      || byte == UInt8(ascii: "%") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-")
  }

}

extension DLPText {
  /// Image and web asset extensions that follow `@` in names like `icon@2x.png`.
  func isFileExtension(_ range: Range<Int>) -> Bool {
    let extensions: [StaticString] = [
      "png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "tif", "tiff", "js", "css",
    ]
    for candidate in extensions where candidate.utf8CodeUnitCount == range.count {
      if hasIgnoringCase(candidate, at: range.lowerBound) { return true }
    }
    return false
  }
}
