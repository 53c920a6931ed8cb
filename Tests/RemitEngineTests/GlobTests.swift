import Testing

@testable import RemitEngine

@Suite struct GlobTests {
  @Test(arguments: [
    ("get_stock", "get_stock", true),
    ("get_stock", "get_stocks", false),
    ("reserve_*", "reserve_item", true),
    ("reserve_*", "reserve_", true),
    ("reserve_*", "reserv", false),
    ("*_admin", "db_admin", true),
    ("*_admin", "db_admins", false),
    ("*", "", true),
    ("**", "anything", true),
    ("a*b*c", "abc", true),
    ("a*b*c", "axxbyyc", true),
    ("a*b*c", "axxc", false),
    ("a*b*c", "acb", false),
    ("inventory://items/*", "inventory://items/42", true),
    ("inventory://items/*", "inventory://other/42", false),
    ("tasks/*", "tasks/get", true),
    ("ab*ba", "aba", false),
  ])
  func nameGlobs(_ pattern: String, _ candidate: String, _ expected: Bool) {
    #expect(Glob(pattern).matches(candidate) == expected)
  }

  @Test func globSetsMatchExactAndWildcard() {
    let set = GlobSet(["get_stock", "reserve_*"])
    #expect(set.matches("get_stock"))
    #expect(set.matches("reserve_x"))
    #expect(!set.matches("delete_all"))
    #expect(GlobSet([]).isEmpty)
    #expect(!GlobSet([]).matches("x"))
  }

  @Test(arguments: [
    ("/api/v1/items/*", "/api/v1/items/42", true),
    ("/api/v1/items/*", "/api/v1/items/42/detail", false),
    ("/api/v1/items/*", "/api/v1/items", false),
    ("/api/v1/items/*", "/api/v1/items/", true),
    ("/api/**", "/api", true),
    ("/api/**", "/api/a/b/c", true),
    ("/api/**/edit", "/api/edit", true),
    ("/api/**/edit", "/api/a/b/edit", true),
    ("/api/**/edit", "/api/a/b/view", false),
    ("/items-*", "/items-7", true),
    ("/items-*", "/item-7", false),
    ("/", "/", true),
    ("/**", "/anything/at/all", true),
    ("/a/**/b/**/c", "/a/x/b/y/z/c", true),
    ("/a/**/b/**/c", "/a/x/y/z/c", false),
  ])
  func pathGlobs(_ pattern: String, _ path: String, _ expected: Bool) {
    #expect(PathGlob(pattern).matches(path) == expected)
  }

  @Test func manyDoubleStarsStayFastOnLongPaths() {
    let glob = PathGlob("/**/a/**/a/**/a/**/a/**/b")
    let path = "/" + Array(repeating: "a", count: 500).joined(separator: "/")
    #expect(!glob.matches(path))
  }

  @Test func workloadPatterns() throws {
    let pattern = try #require(WorkloadPattern("tools/*"))
    #expect(pattern.matches(namespace: "tools", serviceAccount: "inventory"))
    #expect(!pattern.matches(namespace: "agents", serviceAccount: "inventory"))
    #expect(WorkloadPattern("tools") == nil)
    #expect(WorkloadPattern("a/b/c") == nil)
    #expect(WorkloadPattern("/b") == nil)
    #expect(try #require(WorkloadPattern("tools/inventory")).isExact)
  }

  @Test func hostPatterns() {
    #expect(HostPattern("*.payments.example.com").matches("eu.payments.example.com"))
    #expect(HostPattern("*.payments.example.com").matches("a.b.payments.example.com"))
    #expect(!HostPattern("*.payments.example.com").matches("payments.example.com"))
    #expect(!HostPattern("*.payments.example.com").matches("evilpayments.example.com"))
    #expect(HostPattern("API.stripe.com").matches("api.stripe.com"))
  }
}
