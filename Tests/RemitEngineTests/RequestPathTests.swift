import Testing

@testable import RemitEngine

@Suite struct RequestPathTests {
  @Test(arguments: [
    ("/api/v1/items/42", "/api/v1/items/42"),
    ("/api/v1/items?x=1", "/api/v1/items"),
    ("/api/v1/items#frag", "/api/v1/items"),
    ("/api/%7Euser/%41", "/api/~user/A"),
    ("/api/a%20b", "/api/a%20b"),
    ("/api//double", "/api//double"),
    ("/.well-known/x", "/.well-known/x"),
    ("/a/...", "/a/..."),
    // The query and fragment start at the byte, whatever follows it (a combining mark after `?`
    // makes one grapheme cluster with it; found by FuzzRequestPath against a Character reference).
    ("/?\u{33E}%2/%2A%2A4b/%2A%2A%..", "/"),
    ("/a#\u{301}b", "/a"),
  ])
  func accepts(_ raw: String, _ expected: String) throws {
    #expect(try RequestPath.hygienic(raw).get() == expected)
  }

  @Test(arguments: [
    ("", RequestPath.Problem.empty),
    ("api", .empty),
    ("?x", .empty),
    ("/a/../b", .dotSegment),
    ("/a/./b", .dotSegment),
    ("/a/..", .dotSegment),
    ("/a/%2e%2e/b", .dotSegment),
    ("/a/%2E/b", .dotSegment),
    ("/a/.%2e/b", .dotSegment),
    ("/a%2Fb", .encodedSeparator),
    ("/a%2fb", .encodedSeparator),
    ("/a%5Cb", .encodedSeparator),
    ("/a%00b", .encodedSeparator),
    ("/a\\b", .badByte),
    ("/a b", .badByte),
    ("/a\u{0}b", .badByte),
    ("/caf\u{e9}", .badByte),
    ("/a%2", .badEscape),
    ("/a%", .badEscape),
    ("/a%zz", .badEscape),
  ])
  func rejects(_ raw: String, _ expected: RequestPath.Problem) {
    #expect(throws: expected) { try RequestPath.hygienic(raw).get() }
  }

  @Test func rejectsOverlongPaths() {
    #expect(throws: RequestPath.Problem.tooLong) {
      try RequestPath.hygienic("/" + String(repeating: "a", count: RequestPath.maximumBytes)).get()
    }
  }
}
