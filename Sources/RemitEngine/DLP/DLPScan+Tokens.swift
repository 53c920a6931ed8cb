/// Prefix-anchored credentials: cloud and SaaS API keys, PEM private keys and JWTs.
extension DLPScan {
  // MARK: "A": AWS access key ids, Google API keys

  mutating func inspectUpperA(at start: Int) {
    guard !ASCII.isAlphanumeric(text[start - 1]) else { return }
    if isOn(.awsAccessKey), Self.isAWSKeyPrefix(text[start + 1], text[start + 2], text[start + 3]) {
      // Four prefix letters and 16 base32 characters, nothing glued on. AWS's documentation
      // example (…EXAMPLE) is a placeholder, not a key.
      let end = text.runEnd(from: start + 4, limit: 17, ASCII.isBase32)
      if end == start + 20, !ASCII.isAlphanumeric(text[end]), !text.has("EXAMPLE", at: end - 7) {
        record(.awsAccessKey, start..<end)
        return
      }
    }
    if isOn(.googleAPIKey), text.has("AIza", at: start) {
      let end = text.runEnd(from: start + 4, limit: 36, ASCII.isBase64URL)
      if end == start + 39 { record(.googleAPIKey, start..<end) }
    }
  }

  /// AKIA ASIA AGPA AIDA AROA ANPA ANVA AIPA: the key id types AWS issues.
  static func isAWSKeyPrefix(_ second: UInt8, _ third: UInt8, _ fourth: UInt8) -> Bool {
    switch (second, third, fourth) {
    case (UInt8(ascii: "K"), UInt8(ascii: "I"), UInt8(ascii: "A")),
      (UInt8(ascii: "S"), UInt8(ascii: "I"), UInt8(ascii: "A")),
      (UInt8(ascii: "G"), UInt8(ascii: "P"), UInt8(ascii: "A")),
      (UInt8(ascii: "I"), UInt8(ascii: "D"), UInt8(ascii: "A")),
      (UInt8(ascii: "R"), UInt8(ascii: "O"), UInt8(ascii: "A")),
      (UInt8(ascii: "N"), UInt8(ascii: "P"), UInt8(ascii: "A")),
      (UInt8(ascii: "N"), UInt8(ascii: "V"), UInt8(ascii: "A")),
      (UInt8(ascii: "I"), UInt8(ascii: "P"), UInt8(ascii: "A")):
      return true
    default:
      return false
    }
  }

  // MARK: "_": GitHub tokens, Stripe keys

  mutating func inspectUnderscore(at index: Int) {
    if isOn(.githubToken) {
      // ghp_ gho_ ghu_ ghs_ ghr_ + 36 base62.
      let kind = text[index - 1]
      if text[index - 3] == UInt8(ascii: "g"), text[index - 2] == UInt8(ascii: "h"),
        kind == UInt8(ascii: "p") || kind == UInt8(ascii: "o") || kind == UInt8(ascii: "u")
          || kind == UInt8(ascii: "s") || kind == UInt8(ascii: "r"),
        !ASCII.isWord(text[index - 4])
      {
        let end = text.runEnd(from: index + 1, limit: 37, ASCII.isAlphanumeric)
        if end == index + 37, !ASCII.isWord(text[end]) {
          record(.githubToken, (index - 3)..<end)
          underscoreResume = end
          return
        }
      }
      // github_pat_ + 82 of [A-Za-z0-9_] (22 + "_" + 59 in practice).
      if text.has("github_pat_", at: index - 6), !ASCII.isWord(text[index - 7]) {
        let end = text.runEnd(from: index + 5, limit: 83, ASCII.isWord)
        if end == index + 5 + 82, !ASCII.isBase64URL(text[end]) {
          record(.githubToken, (index - 6)..<end)
          underscoreResume = end
          return
        }
        underscoreResume = end
      }
    }
    if isOn(.stripeKey) {
      // sk_live_ rk_live_ sk_test_ rk_test_ + 24...247 base62. Test-mode keys count: they are still
      // credentials to an account and have no business leaving through an agent.
      let kind = text[index - 2]
      if kind == UInt8(ascii: "s") || kind == UInt8(ascii: "r"), text[index - 1] == UInt8(ascii: "k"),
        !ASCII.isWord(text[index - 3]), text.has("live_", at: index + 1) || text.has("test_", at: index + 1)
      {
        let end = text.runEnd(from: index + 6, limit: 248, ASCII.isAlphanumeric)
        if end - (index + 6) >= 24, end - (index + 6) <= 247, !ASCII.isWord(text[end]) {
          record(.stripeKey, (index - 2)..<end)
        }
        underscoreResume = end
      }
    }
  }

  // MARK: "-": OpenAI and Anthropic keys, Slack tokens, PEM private keys

  mutating func inspectDash(at index: Int) {
    if text[index - 1] == UInt8(ascii: "k") && text[index - 2] == UInt8(ascii: "s") && !ASCII.isWord(text[index - 3]) {
      inspectSKKey(dashAt: index)
      return
    }
    if isOn(.slackToken) && text[index - 2] == UInt8(ascii: "x") && text.has("xox", at: index - 4)
      && !ASCII.isAlphanumeric(text[index - 5])
    {
      inspectSlackToken(dashAt: index)
      return
    }
    // Anchored on the second dash of `-----BEGIN `.
    if isOn(.privateKey) && text[index - 1] == UInt8(ascii: "-") && text[index - 2] != UInt8(ascii: "-")
      && text.has("-----BEGIN ", at: index - 1)
    {
      inspectPrivateKey(at: index - 1)
    }
  }

  /// `sk-ant-api03-…`/`sk-ant-admin01-…` (Anthropic); `sk-proj-…`, `sk-svcacct-…`, `sk-admin-…` and
  /// legacy `sk-` + 48 base62 with the `T3BlbkFJ` marker at 20 (OpenAI).
  mutating func inspectSKKey(dashAt dash: Int) {
    let start = dash - 2
    if text.has("ant-", at: dash + 1) {
      guard isOn(.anthropicKey) else { return }
      var index = dash + 5
      if text.has("api", at: index) {
        index += 3
      } else if text.has("admin", at: index) {
        index += 5
      } else {
        return
      }
      guard ASCII.isDigit(text[index]), ASCII.isDigit(text[index + 1]), text[index + 2] == UInt8(ascii: "-")
      else { return }
      let bodyStart = index + 3
      let end = text.runEnd(from: bodyStart, limit: 257, ASCII.isBase64URL)
      dashResume = end
      if end - bodyStart >= 32, end - bodyStart <= 256 { record(.anthropicKey, start..<end) }
      return
    }
    guard isOn(.openAIKey) else { return }
    var bodyStart = dash + 1
    for project in ["proj-", "svcacct-", "admin-"] as [StaticString] where text.has(project, at: bodyStart) {
      bodyStart += project.utf8CodeUnitCount
      let end = text.runEnd(from: bodyStart, limit: 257, ASCII.isBase64URL)
      dashResume = end
      if end - bodyStart >= 40, end - bodyStart <= 256, text.hasLetterAndDigit(bodyStart..<end) {
        record(.openAIKey, start..<end)
      }
      return
    }
    let end = text.runEnd(from: bodyStart, limit: 49, ASCII.isAlphanumeric)
    if end - bodyStart == 48, !ASCII.isBase64URL(text[end]), text.has("T3BlbkFJ", at: bodyStart + 20) {
      record(.openAIKey, start..<end)
      dashResume = end
    }
  }

  /// `xox[abprs]-` + dash-separated digit groups (at least one of 8+ digits) + a final group of
  /// 20...64 letters and digits with at least one letter.
  mutating func inspectSlackToken(dashAt dash: Int) {
    let kind = text[dash - 1]
    guard
      kind == UInt8(ascii: "b") || kind == UInt8(ascii: "p") || kind == UInt8(ascii: "a")
        || kind == UInt8(ascii: "r") || kind == UInt8(ascii: "s")
    else { return }
    var index = dash + 1
    var longDigitGroup = false
    for _ in 0..<5 {
      let end = text.runEnd(from: index, limit: 65, ASCII.isAlphanumeric)
      let length = end - index
      guard length > 0 else { break }
      let allDigits = text.runEnd(from: index, limit: length, ASCII.isDigit) == end
      if allDigits && text[end] == UInt8(ascii: "-") {
        longDigitGroup = longDigitGroup || length >= 8
        index = end + 1
        continue
      }
      dashResume = end
      if longDigitGroup, !allDigits, length >= 20, length <= 64, !ASCII.isBase64URL(text[end]) {
        record(.slackToken, (dash - 4)..<end)
      }
      return
    }
    dashResume = index
  }

  /// `-----BEGIN [RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP ]PRIVATE KEY[ BLOCK]-----`, through its END
  /// line when that follows within 64 KiB, else the BEGIN line alone.
  mutating func inspectPrivateKey(at start: Int) {
    var index = start + 11
    for kind in ["RSA ", "EC ", "DSA ", "OPENSSH ", "ENCRYPTED ", "PGP "] as [StaticString]
    where text.has(kind, at: index) {
      index += kind.utf8CodeUnitCount
      break
    }
    guard text.has("PRIVATE KEY", at: index) else { return }
    index += 11
    if text.has(" BLOCK", at: index) { index += 6 }
    guard text.has("-----", at: index) else { return }
    index += 5
    var end = index
    let searchEnd = min(text.count, index + 65_536)
    var cursor = index
    while cursor < searchEnd {
      if text.base[cursor] == UInt8(ascii: "-") && text.has("-----END ", at: cursor) {
        let close = text.runEnd(from: cursor + 9, limit: 64) { $0 != UInt8(ascii: "-") }
        if text.has("-----", at: close) { end = close + 5 }
        break
      }
      cursor += 1
    }
    if let meter = text.meter { meter.bytesRead += cursor - index }
    record(.privateKey, start..<end)
    dashResume = end
  }

  // MARK: "J": JWTs

  /// `eyJ…` header (base64url of a JSON object with an `"alg"` member), payload and a signature of
  /// at least 16 characters, separated by dots.
  mutating func inspectJWT(at index: Int) {
    let start = index - 2
    guard text[start] == UInt8(ascii: "e"), text[start + 1] == UInt8(ascii: "y"), !ASCII.isBase64URL(text[start - 1])
    else { return }
    let headerEnd = text.runEnd(from: start, limit: 513, ASCII.isBase64URL)
    jwtResume = headerEnd
    guard text[headerEnd] == UInt8(ascii: "."), headerEnd - start <= 512, text.headerHasAlg(start..<headerEnd)
    else { return }
    let payloadEnd = text.runEnd(from: headerEnd + 1, limit: 16_385, ASCII.isBase64URL)
    guard payloadEnd - headerEnd > 2, text[payloadEnd] == UInt8(ascii: ".") else { return }
    let signatureEnd = text.runEnd(from: payloadEnd + 1, limit: 2049, ASCII.isBase64URL)
    jwtResume = signatureEnd
    guard signatureEnd - payloadEnd > 16 else { return }
    record(.jwt, start..<signatureEnd)
  }

  static func base64URLValue(_ byte: UInt8) -> UInt8 {
    switch byte {
    case UInt8(ascii: "A")...UInt8(ascii: "Z"): byte - 65
    case UInt8(ascii: "a")...UInt8(ascii: "z"): byte - 71
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte + 4
    case UInt8(ascii: "-"): 62
    default: 63
    }
  }

  // MARK: "k": Slack incoming webhooks

  /// `hooks.slack.com/services/T…/B…/…` with or without `https://`.
  mutating func inspectSlackWebhook(at index: Int) {
    guard text.has("hoo", at: index - 3), text.has("s.slack.com/services/T", at: index + 1) else { return }
    var start = index - 3
    if text.has("https://", at: start - 8) {
      start -= 8
    } else if text.has("http://", at: start - 7) {
      start -= 7
    } else if ASCII.isAlphanumeric(text[start - 1]) || text[start - 1] == UInt8(ascii: ".") {
      return
    }
    let team = index + 22
    let teamEnd = text.runEnd(from: team, limit: 13, ASCII.isUpperOrDigit)
    guard teamEnd - team >= 9, text[teamEnd] == UInt8(ascii: "/"), text[teamEnd + 1] == UInt8(ascii: "B") else {
      return
    }
    let bot = teamEnd + 1
    let botEnd = text.runEnd(from: bot, limit: 13, ASCII.isUpperOrDigit)
    guard botEnd - bot >= 9, text[botEnd] == UInt8(ascii: "/") else { return }
    let secretEnd = text.runEnd(from: botEnd + 1, limit: 65, ASCII.isAlphanumeric)
    guard secretEnd - botEnd - 1 >= 20, !ASCII.isWord(text[secretEnd]) else { return }
    record(.slackToken, start..<secretEnd)
  }
}

extension DLPText {
  func hasLetterAndDigit(_ range: Range<Int>) -> Bool {
    var letter = false
    var digit = false
    for index in range {
      let byte = base[index]
      letter = letter || ASCII.isLetter(byte)
      digit = digit || ASCII.isDigit(byte)
      if letter && digit { return true }
    }
    return false
  }

  /// Decodes the base64url header (at most 512 characters) and looks for `{` first and `"alg"`.
  func headerHasAlg(_ range: Range<Int>) -> Bool {
    guard range.count % 4 != 1 else { return false }
    var bits: UInt32 = 0
    var bitCount = 0
    var sawBrace = false
    var tail: UInt32 = 0  // the last four decoded bytes
    for index in range {
      bits = bits << 6 | UInt32(DLPScan.base64URLValue(base[index]))
      bitCount += 6
      if bitCount >= 8 {
        bitCount -= 8
        let byte = (bits >> UInt32(bitCount)) & 0xFF
        if !sawBrace {
          if byte == UInt32(UInt8(ascii: "{")) {
            sawBrace = true
          } else if byte != 0x20 && byte != 0x0A && byte != 0x0D && byte != 0x09 {
            return false
          }
        }
        tail = tail << 8 | byte
        // The four bytes `alg"`: the member name (a value would read `"alg`, without the closing quote).
        if tail == 0x616C_6722 { return true }
      }
    }
    return false
  }
}
