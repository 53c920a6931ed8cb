import Foundation
import Testing

@testable import RemitEngine

@Suite struct JSONTapeTests {
  func parse(_ text: String) throws -> JSONTape { try JSONTape(parsing: Array(text.utf8)) }

  @Test(arguments: [
    #"{}"#, #"[]"#, #"0"#, #"-0.5e+10"#, #""a""#, #"true"#, #"null"#,
    #"{"a":[1,2,{"b":null}],"c":"\u00e9\ud83d\ude00"}"#,
    " \n\t{ \"a\" : 1 } \r\n",
    #"{"k":"caf\u00e9","é":"ü"}"#,
  ])
  func acceptsValidJSON(_ text: String) throws {
    _ = try parse(text)
    // Foundation agrees that these are valid.
    _ = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
  }

  @Test(arguments: [
    "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{a:1}", "{'a':1}", "01", "1.", ".5", "-", "1e", "+1",
    "tru", "nul", "[1 2]", "{\"a\" 1}", "\"abc", "\"a\u{1}b\"", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"",
    "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\u0000\"", "[] []", "NaN", "Infinity", "{\"a\":1}x",
  ])
  func rejectsInvalidJSON(_ text: String) {
    #expect(throws: JSONTape.Failure.self) { try parse(text) }
  }

  /// Found by FuzzJSONBody: JSON's grammar puts no bound on a number, and Foundation refuses one
  /// that overflows a Double where the tape (which never converts numbers) accepts it. Either is
  /// valid; the fuzz target's differential allows for it.
  @Test func numbersOutsideDoublesRangeAreValidSyntax() throws {
    for text in [
      "1E400", "-1e99999", "33333333333333333333333333333E33333333733333333333333000000000000000000000000000911468534",
    ] {
      let tape = try JSONTape(parsing: Array(text.utf8))
      #expect(tape.nodes.count == 1)
      #expect(tape[0].kind == .number)
      #expect(tape.rawText(0) == text)
    }
  }

  @Test func rejectsInvalidUTF8() {
    for bytes: [UInt8] in [
      [0x22, 0xC0, 0xAF, 0x22],  // overlong '/'
      [0x22, 0xED, 0xA0, 0x80, 0x22],  // UTF-16 surrogate encoded
      [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // above U+10FFFF
      [0x22, 0xE2, 0x82, 0x22],  // truncated sequence
      [0x22, 0x80, 0x22],  // lone continuation
      [0x22, 0xFF, 0x22],
    ] {
      #expect(throws: JSONTape.Failure.self) { try JSONTape(parsing: bytes) }
    }
  }

  @Test func boundsNestingDepth() throws {
    let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
    let failure = try #require(throws: JSONTape.Failure.self) { try parse(deep) }
    #expect(failure.reason.contains("nesting"))
    _ = try JSONTape(parsing: Array((String(repeating: "[", count: 64) + String(repeating: "]", count: 64)).utf8))
  }

  @Test func boundsNodeCount() throws {
    let many = "[" + Array(repeating: "1", count: 1000).joined(separator: ",") + "]"
    let failure = try #require(throws: JSONTape.Failure.self) {
      try JSONTape(parsing: Array(many.utf8), limits: .init(maximumDepth: 64, maximumNodes: 500))
    }
    #expect(failure.reason == "too many JSON values")
    // The limit itself is allowed: 499 numbers and their array.
    let fits = "[" + Array(repeating: "1", count: 499).joined(separator: ",") + "]"
    #expect(
      try JSONTape(parsing: Array(fits.utf8), limits: .init(maximumDepth: 64, maximumNodes: 500)).nodes.count == 500)
  }

  /// The tape is first sized for typical JSON (a node per 4 bytes); denser documents are parsed
  /// again with room for one node per byte, and come out the same.
  @Test func denseDocumentsOutgrowTheFirstEstimate() throws {
    for count in [1, 15, 16, 17, 100, 5_000, 8_191, 8_192, 20_000] {
      let numbers = "[" + Array(repeating: "7", count: count).joined(separator: ",") + "]"
      let tape = try parse(numbers)
      #expect(tape.nodes.count == count + 1)
      #expect(tape[0].count == Int32(count) && tape[0].next == Int32(count + 1))
      #expect(tape.children(of: 0).allSatisfy { tape[$0].kind == .number && tape.rawText($0) == "7" })
      let nested = String(repeating: "[", count: min(count, 64)) + String(repeating: "]", count: min(count, 64))
      #expect(try parse(nested).nodes.count == min(count, 64))
    }
    // A failure in the second pass is reported as it is, not as a capacity problem.
    let failure = try #require(throws: JSONTape.Failure.self) {
      try parse("[" + Array(repeating: "1", count: 100).joined(separator: ",") + ",x]")
    }
    #expect(failure.reason == "unexpected character" && failure.offset == 201)
  }

  /// Runs of spaces are skipped eight at a time; the byte after a run is still read exactly.
  @Test func whitespaceRunsOfEveryLength() throws {
    for length in [0, 1, 7, 8, 9, 16, 17, 200] {
      let pad = String(repeating: " ", count: length)
      let text = pad + "{" + pad + "\"a\"" + pad + ":" + pad + "[1," + pad + "\t\n\r" + pad + "2]" + pad + "}" + pad
      let tape = try parse(text)
      #expect(tape.nodes.count == 5)
      #expect(tape.rawText(0).hasPrefix("{") && tape.rawText(0).hasSuffix("}"))
      let failure = try #require(throws: JSONTape.Failure.self) { try parse("[1," + pad + "x]") }
      #expect(failure.reason == "unexpected character" && failure.offset == 3 + length)
      let trailing = try #require(throws: JSONTape.Failure.self) { try parse("[1]" + pad + "x") }
      #expect(trailing.reason == "unexpected data after the value" && trailing.offset == 3 + length)
    }
  }

  /// Objects of up to sixteen plain keys compare fingerprints on the stack; wider objects and
  /// escaped keys compare decoded keys in a set. Both paths, at every depth.
  @Test func duplicateKeysAreFoundOnEveryPathOfTheCheck() throws {
    // The same key at different levels, and again after a nested object, is no duplicate...
    _ = try parse(#"{"a":{"a":1,"b":{"a":2,"b":[{"a":3}]}},"b":3,"c":{"a":4}}"#)
    // ...but a key repeated after its nested value is.
    #expect(throws: JSONTape.Failure.self) { try parse(#"{"a":{"b":{"a":1}},"c":2,"a":3}"#) }
    // Around the sixteen keys of the fingerprint path.
    for width in [15, 16, 17, 40] {
      let keys = (0..<width).map { "\"key\($0)\":\($0)" }
      _ = try parse("{" + keys.joined(separator: ",") + "}")
      for repeated in [0, width - 1] {
        #expect(throws: JSONTape.Failure.self) {
          try parse("{" + (keys + ["\"key\(repeated)\":0"]).joined(separator: ",") + "}")
        }
      }
    }
    // An escaped spelling after plain keys, and a plain one after an escaped key.
    #expect(throws: JSONTape.Failure.self) { try parse(#"{"x":1,"y":2,"name":3,"na\u006de":4}"#) }
    #expect(throws: JSONTape.Failure.self) { try parse(#"{"na\u006de":1,"x":2,"name":3}"#) }
    // Twenty nested objects of sixteen or seventeen keys, the repeated key at several depths.
    func nested(levels: Int, duplicateAtDepth: Int?) -> String {
      var text = ""
      for level in 0..<levels {
        let keys = (0..<15).map { "\"k\($0)\":\($0)" }.joined(separator: ",")
        let extra = level == duplicateAtDepth ? ",\"k3\":0" : ""
        text += "{" + keys + extra + ",\"next\":"
      }
      return text + "0" + String(repeating: "}", count: levels)
    }
    _ = try parse(nested(levels: 20, duplicateAtDepth: nil))
    for depth in [0, 10, 15, 16, 19] {
      let failure = try #require(throws: JSONTape.Failure.self) {
        try parse(nested(levels: 20, duplicateAtDepth: depth))
      }
      #expect(failure.reason == "duplicate key in object")
    }
    // A malformed object reports its syntax error even when it also repeats a key.
    let failure = try #require(throws: JSONTape.Failure.self) { try parse(#"{"a":1,"a":2,}"#) }
    #expect(failure.reason == "expected a string key" && failure.offset == 13)
  }

  @Test func rejectsDuplicateKeysIncludingEscapedSpellings() throws {
    #expect(throws: JSONTape.Failure.self) { try parse(#"{"name":"a","name":"b"}"#) }
    #expect(throws: JSONTape.Failure.self) { try parse(#"{"name":"a","na\u006de":"b"}"#) }
    #expect(throws: JSONTape.Failure.self) { try parse(#"{"x":{"k":1,"k":2}}"#) }
    let wide = (0..<40).map { "\"k\($0)\":\($0)" } + ["\"k7\":0"]
    #expect(throws: JSONTape.Failure.self) { try parse("{" + wide.joined(separator: ",") + "}") }
    _ = try parse("{" + (0..<40).map { "\"k\($0)\":\($0)" }.joined(separator: ",") + "}")
    // Keys alike in length and first bytes are still told apart, and still caught when equal.
    _ = try parse(#"{"abcdefghX":1,"abcdefghY":2,"abcdefgh":3,"":4}"#)
    #expect(throws: JSONTape.Failure.self) { try parse(#"{"abcdefghX":1,"q":0,"abcdefghX":2}"#) }
    #expect(throws: JSONTape.Failure.self) { try parse(#"{"":1,"q":0,"":2}"#) }
    #expect(throws: JSONTape.Failure.self) { try parse(#"{"q":0,"q":2}"#) }
  }

  @Test func readsStringsAndMembers() throws {
    let tape = try parse(#"{"params":{"name":"get_\u0073tock","n":1},"id":"a\"b"}"#)
    let params = try #require(tape.value(forKey: "params", inObject: tape.root))
    let name = try #require(tape.value(forKey: "name", inObject: params))
    #expect(tape.string(name) == "get_stock")
    #expect(tape.stringEquals(name, "get_stock"))
    let id = try #require(tape.value(forKey: "id", inObject: tape.root))
    #expect(tape.rawText(id) == #""a\"b""#)
    #expect(tape.string(id) == "a\"b")
    #expect(tape.value(forKey: "missing", inObject: tape.root) == nil)
  }

  @Test func decodesSurrogatePairs() throws {
    let tape = try parse(#""\ud83d\ude00x""#)
    #expect(tape.string(tape.root) == "😀x")
  }

  /// The string scanner skips eight bytes at a time: a quote, backslash, control or non-ASCII
  /// byte at any offset of a word, at the end of the input or right after a skipped word must
  /// still be seen. Differential against Foundation for the decoded value.
  @Test func specialBytesAtEveryOffsetOfAStringAgreeWithFoundation() throws {
    let specials = ["\\\"", "\\\\", "\\n", "\\u00e9", "é", "😀", "\u{01}", "\u{1F}", "\"", "\u{7F}"]
    for length in 0..<20 {
      for offset in 0..<max(length, 1) {
        for special in specials {
          let content =
            String(repeating: "a", count: offset) + special + String(repeating: "b", count: max(length - offset - 1, 0))
          let text = "{\"k\":\"\(content)\"}"
          let ours = try? parse(text)
          let foundation = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String]
          #expect((ours != nil) == (foundation != nil), "validity differs on \(text)")
          if let ours, let foundation, let valueIndex = ours.value(forKey: "k", inObject: ours.root) {
            #expect(ours.string(valueIndex) == foundation["k"], "value differs on \(text)")
          }
        }
      }
    }
  }

  /// Differential check against Foundation on generated documents.
  @Test func agreesWithFoundationOnGeneratedDocuments() throws {
    var generator = SystemRandomNumberGenerator()
    let atoms = ["1", "-2.5e3", "\"s\"", "\"\\u00e9\"", "true", "false", "null", "{}", "[]", "\"a\\nb\""]
    for _ in 0..<3000 {
      var text = ""
      func value(_ depth: Int) {
        switch Int.random(in: 0..<(depth > 4 ? 1 : 3), using: &generator) {
        case 1:
          text += "["
          for index in 0..<Int.random(in: 0..<4, using: &generator) {
            if index > 0 { text += "," }
            value(depth + 1)
          }
          text += "]"
        case 2:
          text += "{"
          for index in 0..<Int.random(in: 0..<4, using: &generator) {
            if index > 0 { text += "," }
            text += "\"k\(index)\":"
            value(depth + 1)
          }
          text += "}"
        default:
          text += atoms.randomElement(using: &generator) ?? "1"
        }
      }
      value(0)
      // Corrupt some documents by dropping a byte.
      if Bool.random(using: &generator), text.count > 1 {
        var characters = Array(text)
        characters.remove(at: Int.random(in: 0..<characters.count, using: &generator))
        text = String(characters)
      }
      let ours = (try? parse(text)) != nil
      let foundation = (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) != nil
      // Foundation accepts trailing commas, which RFC 8259 forbids; Remit rejects them (stricter
      // is the fail-closed side). Every other disagreement is a bug.
      if text.contains(",]") || text.contains(",}") {
        #expect(!ours, "accepted a trailing comma: \(text)")
      } else {
        #expect(ours == foundation, "disagreement on \(text)")
      }
    }
  }
}

@Suite struct JSONRPCPayloadTests {
  func payload(_ text: String) throws -> JSONRPCPayload {
    try JSONRPCPayload(tape: JSONTape(parsing: Array(text.utf8)))
  }

  @Test func readsARequest() throws {
    let payload = try payload(#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_stock"}}"#)
    #expect(!payload.isBatch)
    let message = try #require(payload.messages.first)
    #expect(message.kind == .request)
    #expect(message.method == "tools/call")
    #expect(message.idJSON == "7")
    #expect(payload.paramString(message, "name") == "get_stock")
  }

  /// Member names and the version are compared after their escapes are decoded, by both the
  /// `String` and the `StaticString` comparisons, and a message reads the same either way.
  @Test func escapedMemberNamesReadAsTheirText() throws {
    let plain = try payload(#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_stock"}}"#)
    let escaped = try payload(
      #"{"json\u0072pc":"2\u002e0","\u0069d":7,"meth\u006fd":"tools\/call","p\u0061rams":{"n\u0061me":"get_stock"}}"#)
    for payload in [plain, escaped] {
      let message = try #require(payload.messages.first)
      #expect(message.kind == .request && message.method == "tools/call" && message.idJSON == "7")
      #expect(payload.paramString(message, "name") == "get_stock")
      #expect(payload.paramString(message, "name" as StaticString) == "get_stock")
      #expect(payload.paramString(message, "nam" as StaticString) == nil)
    }
    let tape = try JSONTape(parsing: Array(#"["ab","a\u0062","abc","",1]"#.utf8))
    for index in 1..<tape.nodes.count {
      for text in ["ab", "abc", "", "a"] {
        let expected = tape[index].kind == .string && tape.string(index) == text
        #expect(tape.stringEquals(index, text) == expected)
      }
      #expect(tape.stringEquals(index, "ab" as StaticString) == tape.stringEquals(index, "ab"))
      #expect(tape.stringEquals(index, "" as StaticString) == tape.stringEquals(index, ""))
    }
    // A response is told from a request without a method by the one-pass member read.
    let response = try payload(#"{"error":{"code":1},"jsonrpc":"2.0","id":3}"#)
    #expect(response.messages.first?.kind == .response)
    #expect(throws: JSONRPCPayload.Failure.self) { try payload(#"{"jsonrpc":"2.0","id":3,"result":1,"error":{}}"#) }
  }

  @Test func readsNotificationsResponsesAndBatches() throws {
    let batch = try payload(
      #"[{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":"x","result":{}}]"#
    )
    #expect(batch.isBatch)
    #expect(batch.messages.map(\.kind) == [.notification, .response])
    #expect(batch.messages[1].idJSON == "\"x\"")
  }

  @Test(arguments: [
    #"{"id":1,"method":"tools/call"}"#,
    #"{"jsonrpc":"1.0","id":1,"method":"x"}"#,
    #"{"jsonrpc":"2.0","id":{},"method":"x"}"#,
    #"{"jsonrpc":"2.0","id":1,"method":5}"#,
    #"{"jsonrpc":"2.0","id":1,"method":""}"#,
    #"{"jsonrpc":"2.0","id":1,"method":"x","params":"str"}"#,
    #"{"jsonrpc":"2.0","id":1}"#,
    #"{"jsonrpc":"2.0","id":1,"result":1,"error":{}}"#,
    #"{"jsonrpc":"2.0","result":1}"#,
    #"[]"#,
    #"[1]"#,
    #""str""#,
  ])
  func rejectsMalformedMessages(_ text: String) {
    #expect(throws: JSONRPCPayload.Failure.self) { try payload(text) }
  }

  @Test func boundsBatchSize() {
    let element = #"{"jsonrpc":"2.0","method":"ping","id":1}"#
    let text = "[" + Array(repeating: element, count: JSONRPCPayload.maximumBatchSize + 1).joined(separator: ",") + "]"
    #expect(throws: JSONRPCPayload.Failure.self) { try payload(text) }
  }
}
