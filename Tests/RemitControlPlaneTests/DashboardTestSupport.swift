import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import RemitControlPlane

/// A cookie-keeping client for the dashboard, like a browser on http://localhost. Used by one
/// test task at a time.
final class DashboardBrowser {
  let client: any TestClientProtocol
  var cookies: [String: String] = [:]
  /// The last `Set-Cookie` values received, by cookie name (tests check their attributes).
  var setCookies: [String: String] = [:]

  init(_ client: any TestClientProtocol) {
    self.client = client
  }

  func get(_ uri: String, headers extra: HTTPFields = [:]) async throws -> TestResponse {
    var headers = extra
    if !cookies.isEmpty { headers[.cookie] = cookieHeader }
    let response = try await client.executeRequest(uri: uri, method: .get, headers: headers, body: nil)
    remember(response)
    return response
  }

  /// A form POST from this dashboard's own page (Origin http://localhost) unless `origin` says otherwise.
  func post(
    _ uri: String, _ fields: [(String, String)], origin: String? = "http://localhost", headers extra: HTTPFields = [:]
  ) async throws -> TestResponse {
    var headers = extra
    headers[.contentType] = "application/x-www-form-urlencoded"
    if let origin { headers[.origin] = origin }
    if !cookies.isEmpty { headers[.cookie] = cookieHeader }
    let body = fields.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&")
    let response = try await client.executeRequest(
      uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body))
    remember(response)
    return response
  }

  /// GETs the sign-in page and signs in with `key`.
  func signIn(_ key: String) async throws -> TestResponse {
    let page = try await get("/ui/sign-in")
    let token = try #require(Self.csrf(in: page.text))
    return try await post("/ui/sign-in", [("csrf", token), ("key", key)])
  }

  /// The CSRF token of the page at `uri`.
  func csrf(from uri: String) async throws -> String {
    let page = try await get(uri)
    return try #require(Self.csrf(in: page.text), "no csrf field on \(uri): \(page.status)")
  }

  static func csrf(in html: String) -> String? {
    guard let range = html.range(of: #"name="csrf" value="([^"]+)""#, options: .regularExpression) else { return nil }
    let match = html[range]
    guard let start = match.range(of: "value=\"")?.upperBound else { return nil }
    return String(match[start...].dropLast())
  }

  var cookieHeader: String {
    cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
  }

  private func remember(_ response: TestResponse) {
    for header in response.headers[values: .setCookie] {
      let pair = header.split(separator: ";", maxSplits: 1)[0]
      let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      guard parts.count == 2 else { continue }
      let name = String(parts[0])
      setCookies[name] = header
      if parts[1].isEmpty || header.contains("Max-Age=0") {
        cookies[name] = nil
      } else {
        cookies[name] = String(parts[1])
      }
    }
  }

  static func encode(_ text: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
  }
}

extension ControlPlaneFixture {
  /// Runs `body` with the dashboard mounted as `remit control-plane` mounts it.
  func withDashboard(
    _ configuration: DashboardConfiguration = DashboardConfiguration(),
    signInThrottle: SignInThrottle? = nil,
    _ body: @Sendable (any TestClientProtocol) async throws -> Void
  ) async throws {
    let application = ControlPlane.application(
      store: store, host: "127.0.0.1", port: 0, logger: Self.quietLogger, dashboard: configuration,
      signInThrottle: signInThrottle
        ?? SignInThrottle(limit: configuration.signInFailureLimit, windowSeconds: configuration.signInWindow))
    do {
      try await application.test(.router) { client in try await body(client) }
    } catch {
      try? await store.close()
      throw error
    }
    try await store.close()
  }
}
