import Hummingbird

/// The dashboard's cookies, response headers and request-origin checks.
enum DashboardSecurity {
  static let sessionCookie = "remit_session"
  /// Double-submit token of the sign-in form, which has no session yet.
  static let signInCookie = "remit_signin"
  static let signInCookieLifetime: Int64 = 10 * 60

  static let contentSecurityPolicy =
    "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

  static let xFrameOptions = headerName("X-Frame-Options")
  static let referrerPolicy = headerName("Referrer-Policy")
  static let xForwardedProto = headerName("X-Forwarded-Proto")

  /// A constant, valid header token.
  private static func headerName(_ name: String) -> HTTPFields.Element.Name {
    guard let name = HTTPFields.Element.Name(name) else { preconditionFailure("invalid header name \(name)") }
    return name
  }

  /// Set on every `/ui` response, errors included.
  static func applyHeaders(_ response: inout Response) {
    response.headers[.contentSecurityPolicy] = contentSecurityPolicy
    response.headers[xFrameOptions] = "DENY"
    response.headers[.xContentTypeOptions] = "nosniff"
    response.headers[referrerPolicy] = "no-referrer"
    response.headers[.cacheControl] = "no-store"
  }

  /// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Path=/ui, Secure when asked.
  static func cookie(name: String, value: String, maxAge: Int64, secure: Bool) -> String {
    var text = "\(name)=\(value); Path=/ui; Max-Age=\(maxAge); HttpOnly; SameSite=Strict"
    if secure { text += "; Secure" }
    return text
  }

  /// Secure cookies when configured, or when a TLS-terminating proxy says the browser used https.
  static func wantsSecureCookies(_ request: Request, configuration: DashboardConfiguration) -> Bool {
    if configuration.secureCookies { return true }
    guard let proto = request.headers[xForwardedProto] else { return false }
    return proto.lowercased() == "https"
  }

  static func cookieValue(_ request: Request, _ name: String) -> String? {
    guard let value = request.cookies[name]?.value, !value.isEmpty else { return nil }
    return value
  }

  /// A POST must come from a page of this host: its Origin, when present, and its Referer, when
  /// present, must name the host the request was sent to. `Origin: null` carries no information
  /// (Chrome sends it for forms posted from a page with `Referrer-Policy: no-referrer`), so the
  /// CSRF token and the SameSite=Strict cookie decide then.
  static func isSameOrigin(_ request: Request) -> Bool {
    guard let host = request.head.authority, !host.isEmpty else { return false }
    if let origin = request.headers[.origin], origin != "null" {
      guard authority(ofURL: origin) == host.lowercased() else { return false }
    }
    if let referer = request.headers[.referer] {
      guard authority(ofURL: referer) == host.lowercased() else { return false }
    }
    return true
  }

  /// `host:port` of an absolute http(s) URL, lowercased; nil for anything else.
  static func authority(ofURL text: String) -> String? {
    let lower = text.lowercased()
    let rest: Substring
    if lower.hasPrefix("http://") {
      rest = lower.dropFirst("http://".count)
    } else if lower.hasPrefix("https://") {
      rest = lower.dropFirst("https://".count)
    } else {
      return nil
    }
    let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
    guard !authority.isEmpty, !authority.contains("@") else { return nil }
    return String(authority)
  }
}
