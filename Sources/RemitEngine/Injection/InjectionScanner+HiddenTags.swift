/// Hidden-instruction tags and chat-template control tokens. Case-insensitive, ASCII only.
extension InjectionScanner {
  /// Tag names that mark text addressed to the model rather than the reader. Ordinary HTML and
  /// XML element names are deliberately absent.
  static let instructionTagNames: [[UInt8]] = [
    "important", "system", "sys", "instructions", "instruction", "information", "admin",
  ].map { Array($0.utf8) }

  /// Names no ordinary document uses: a signal in any case, opened or closed (chat-template turn
  /// markers and prompt-section names).
  static let unambiguousTagNames: [[UInt8]] = [
    "im_start", "im_end", "start_of_turn", "end_of_turn", "system_prompt", "system-prompt", "systemprompt",
    "system_message", "system-message", "system-reminder",
  ].map { Array($0.utf8) }

  static let bracketTagNames: [[UInt8]] = [
    "inst", "/inst", "system", "/system", "sys", "/sys", "system message", "system_message", "system prompt",
  ].map { Array($0.utf8) }

  static let headingWords: [[UInt8]] = ["system", "sys", "instruction", "instructions"].map { Array($0.utf8) }

  /// `<important>`, `</system>`, `<system attr=…>`, `<|im_start|>`, `<<SYS>>`.
  mutating func angleTag(at index: Int) {
    guard let base else { return }
    var position = index + 1
    guard position < end else { return }
    if base[position] == UInt8(ascii: "|") {
      // <|name|>: chat-template control tokens (ChatML, Llama 3, Phi, harmony).
      let nameStart = position + 1
      let nameEnd = scanName(from: nameStart, limit: 40) { Self.isNameByte($0) || $0 == UInt8(ascii: ".") }
      if nameEnd > nameStart && nameEnd + 1 < end && base[nameEnd] == UInt8(ascii: "|")
        && base[nameEnd + 1] == UInt8(ascii: ">")
      {
        report(.hiddenTag, at: index)
      }
      return
    }
    if base[position] == UInt8(ascii: "<") {
      // <<SYS>> and <</SYS>> (Llama 2).
      position += 1
      if position < end && base[position] == UInt8(ascii: "/") { position += 1 }
      if matchesCaseInsensitive(at: position, "sys>>") { report(.hiddenTag, at: index) }
      return
    }
    if base[position] == UInt8(ascii: "/") { position += 1 }
    guard position < end, Self.isTagNameStart(base[position]) else { return }
    let nameEnd = scanName(from: position, limit: 24, Self.isNameByte)
    guard nameEnd < end, nameEnd > position else { return }
    // `>`, attributes after whitespace, or a self-closing `/>`; not a header path (`<sys/types.h>`).
    let terminator = base[nameEnd]
    let selfClosing = terminator == UInt8(ascii: "/") && nameEnd + 1 < end && base[nameEnd + 1] == UInt8(ascii: ">")
    guard
      terminator == UInt8(ascii: ">") || selfClosing || terminator == UInt8(ascii: " ") || terminator == 0x09
        || terminator == 0x0A || terminator == 0x0D
    else { return }
    if nameIn(Self.unambiguousTagNames, from: position, to: nameEnd) {
      report(.hiddenTag, at: index)
      return
    }
    guard nameIn(Self.instructionTagNames, from: position, to: nameEnd) else { return }
    // Ordinary words as tags need a capital (`<IMPORTANT>`, `</System>`): lowercase ones are
    // placeholders in usage text (`not <system>:0.0`), pseudo-markup in prose
    // (`<important>Bring your badge</important>`) or XML elements (Maven's `<system>`).
    if (position..<nameEnd).contains(where: { base[$0] &- UInt8(ascii: "A") < 26 }) {
      report(.hiddenTag, at: index)
    }
  }

  /// `[INST]`, `[/INST]`, `[SYSTEM]`, `[System]`; not an all-lowercase list in code (`[inst]`,
  /// `[system]`) and not markdown links (`[System](…)`, `[System]: …`).
  mutating func bracketTag(at index: Int) {
    guard let base else { return }
    let nameStart = index + 1
    let nameEnd = scanName(from: nameStart, limit: 20) {
      Self.isASCIILetter($0) || $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: " ")
    }
    guard nameEnd > nameStart, nameEnd < end, base[nameEnd] == UInt8(ascii: "]") else { return }
    let after = nameEnd + 1
    if after < end && (base[after] == UInt8(ascii: "(") || base[after] == UInt8(ascii: ":")) { return }
    guard (nameStart..<nameEnd).contains(where: { base[$0] &- UInt8(ascii: "A") < 26 }) else { return }
    if nameIn(Self.bracketTagNames, from: nameStart, to: nameEnd) { report(.hiddenTag, at: index) }
  }

  /// `### system:`, `## Instruction:`, `###(system_message)`; not `### System requirements`.
  mutating func hashHeading(at index: Int) {
    guard let base else { return }
    if index > 0 && base[index - 1] == UInt8(ascii: "#") { return }
    var position = index
    while position < end && base[position] == UInt8(ascii: "#") && position - index < 7 { position += 1 }
    guard position - index >= 2, position - index <= 6 else { return }
    while position < end && (base[position] == UInt8(ascii: " ") || base[position] == UInt8(ascii: "(")) {
      position += 1
    }
    let wordEnd = scanName(from: position, limit: 12, Self.isASCIILetter)
    guard wordEnd > position, nameIn(Self.headingWords, from: position, to: wordEnd) else { return }
    guard wordEnd < end else { return }
    switch base[wordEnd] {
    case UInt8(ascii: ":"), UInt8(ascii: ")"), UInt8(ascii: "]"), UInt8(ascii: "_"):
      report(.hiddenTag, at: index)
    case UInt8(ascii: " "):
      var next = wordEnd
      while next < end && base[next] == UInt8(ascii: " ") { next += 1 }
      if next < end && base[next] == UInt8(ascii: ":") || matchesCaseInsensitive(at: next, "message")
        || matchesCaseInsensitive(at: next, "prompt")
      {
        report(.hiddenTag, at: index)
      }
    default:
      break
    }
  }

  // MARK: - Byte helpers shared with the credential matcher

  /// The end of the run of bytes from `start` satisfying `accept`, at most `limit` long. A run
  /// longer than `limit` returns `start` (no name).
  func scanName(from start: Int, limit: Int, _ accept: (UInt8) -> Bool) -> Int {
    guard let base else { return start }
    var position = start
    while position < end && accept(base[position]) {
      position += 1
      if position - start > limit { return start }
    }
    return position
  }

  /// Whether bytes `[from, to)` equal one of `names`, ASCII case-insensitively.
  func nameIn(_ names: [[UInt8]], from start: Int, to stop: Int) -> Bool {
    guard let base else { return false }
    let length = stop - start
    outer: for name in names where name.count == length {
      for offset in 0..<length where Self.lowercased(base[start + offset]) != name[offset] { continue outer }
      return true
    }
    return false
  }

  /// Whether `literal` (lowercase) appears at `start`, ASCII case-insensitively.
  func matchesCaseInsensitive(at start: Int, _ literal: [UInt8]) -> Bool {
    literal.withUnsafeBufferPointer { matchesCaseInsensitive(at: start, $0) }
  }

  /// The same for a literal in the source, without allocating.
  func matchesCaseInsensitive(at start: Int, _ literal: StaticString) -> Bool {
    literal.withUTF8Buffer { matchesCaseInsensitive(at: start, $0) }
  }

  private func matchesCaseInsensitive(at start: Int, _ literal: UnsafeBufferPointer<UInt8>) -> Bool {
    guard let base, start >= 0, start + literal.count <= end else { return false }
    for offset in 0..<literal.count where Self.lowercased(base[start + offset]) != literal[offset] { return false }
    return true
  }

  @inline(__always) static func lowercased(_ byte: UInt8) -> UInt8 {
    byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
  }

  @inline(__always) static func isNameByte(_ byte: UInt8) -> Bool {
    isASCIILetter(byte) || byte &- UInt8(ascii: "0") < 10 || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
  }

  @inline(__always) static func isTagNameStart(_ byte: UInt8) -> Bool {
    switch lowercased(byte) {
    case UInt8(ascii: "i"), UInt8(ascii: "s"), UInt8(ascii: "a"), UInt8(ascii: "e"): true
    default: false
    }
  }
}
