import Testing

@testable import RemitEngine

/// The header facts found in one pass must be what the dictionary lookups they replace give.
@Suite struct HeaderFactsTests {
  static let names = [
    "content-type", "content-encoding", "content-length", "x-envoy-auth-partial-body",
    "x-http-method-override", "x-http-method", "x-method-override", "x-remit-delegation-chain-id",
    // Same lengths as the names read, other text: must not be taken for them.
    "content-tipe", "x-http-methox", "content-lengtx", "content-encodinx", "x-method-overridx",
    "x-remit", "x-remitx-other", ":authority", "accept",
  ]

  @Test(arguments: 0..<200)
  func onePassGivesWhatTheLookupsGive(seed: Int) {
    var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 | 1
    func next(_ bound: Int) -> Int {
      state ^= state << 13
      state ^= state >> 7
      state ^= state << 17
      return Int(state % UInt64(bound))
    }
    var headers: [String: String] = [:]
    for name in Self.names where next(3) == 0 {
      headers[name] = ["application/json", "gzip", "12", "true", "PUT"][next(5)]
    }
    let http = GovernedRequest.HTTPRequest(method: "POST", path: "/", headers: headers)
    #expect(http.facts.contentType == headers["content-type"])
    #expect(http.facts.contentEncoding == headers["content-encoding"])
    #expect(http.facts.contentLength == headers["content-length"])
    #expect(http.facts.partialBody == headers["x-envoy-auth-partial-body"])
    // In the order `DecisionEngine.methodOverrideHeaders` names them.
    let overrides = http.facts.methodOverrides
    #expect([overrides.0, overrides.1, overrides.2] == DecisionEngine.methodOverrideHeaders.map { headers[$0] })
    #expect(http.facts.hasRemitHeader == headers.keys.contains { $0.hasPrefix("x-remit-") })
  }

  @Test func changedHeadersAreFoundAgain() {
    var http = GovernedRequest.HTTPRequest(method: "POST", path: "/", headers: [:])
    #expect(!http.hasJSONContentType)
    http.headers["content-type"] = "application/vnd.api+json; charset=utf-8"
    #expect(http.hasJSONContentType)
    http.headers["x-remit-forged"] = "1"
    #expect(http.facts.hasRemitHeader)
  }
}
