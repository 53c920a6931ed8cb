import Testing

@testable import RemitEngine

/// The principal table's key: byte equality, and a digest that tells apart the principals a
/// mesh actually has (so the table does not degrade into long probe chains).
@Suite struct PrincipalKeyTests {
  typealias Key = PolicySnapshot.PrincipalKey

  @Test func equalOnlyForEqualBytes() {
    let principal = "spiffe://cluster.local/ns/agents/sa/checkout-bot"
    #expect(Key(principal) == Key(String(principal)))
    #expect(Key(principal).hashValue == Key(principal + "").hashValue)
    // U+212A KELVIN SIGN equals "K" as a Swift string, not as bytes.
    let kelvin = "spiffe://cluster.local/ns/agents/sa/chec\u{212A}out-bot"
    #expect(kelvin == "spiffe://cluster.local/ns/agents/sa/checKout-bot")
    #expect(Key(kelvin) != Key("spiffe://cluster.local/ns/agents/sa/checKout-bot"))
    #expect(Key("") == Key(""))
    #expect(Key("") != Key("a"))
  }

  @Test func everyByteAndTheLengthCount() {
    func digest(_ text: String) -> UInt64 {
      var text = text
      return text.withUTF8 { Key.digest($0) }
    }
    // A change at any position, in full words and in the tail, changes the digest.
    let base = String(repeating: "a", count: 21)
    var digests: Set<UInt64> = [digest(base)]
    for position in 0..<21 {
      var bytes = Array(base.utf8)
      bytes[position] = UInt8(ascii: "b")
      digests.insert(digest(String(decoding: bytes, as: UTF8.self)))
    }
    #expect(digests.count == 22)
    // Trailing zero bytes are not lost in the tail.
    #expect(digest("ab") != digest("ab\u{0}"))
    #expect(Set((0...24).map { digest(String(repeating: "x", count: $0)) }).count == 25)
  }

  /// Ten thousand principals named as fleets name them (numbered namespaces and service accounts,
  /// long shared prefixes and suffixes) have ten thousand digests.
  @Test func aFleetOfPrincipalsHasDistinctDigests() {
    var digests: Set<UInt64> = []
    var count = 0
    for namespace in 0..<100 {
      for account in 0..<100 {
        var principal = "spiffe://cluster.local/ns/team-\(namespace)/sa/agent-\(account)-default-service-account"
        digests.insert(principal.withUTF8 { Key.digest($0) })
        count += 1
      }
    }
    #expect(digests.count == count)
  }
}
