import Foundation
import Hummingbird

/// An `application/x-www-form-urlencoded` body or query string, bounded: at most
/// `maximumFields` fields; the body at most `maximumBodyBytes`.
struct DashboardForm: Sendable, Equatable {
  static let maximumBodyBytes = 64 << 10
  static let maximumFields = 64

  private var fields: [String: String]

  init(fields: [String: String] = [:]) {
    self.fields = fields
  }

  /// Parses `a=1&b=x+y`; the first occurrence of a name wins. Throws on malformed escapes or too
  /// many fields.
  init(urlEncoded text: Substring) throws(DashboardError) {
    var fields: [String: String] = [:]
    var count = 0
    for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
      count += 1
      guard count <= Self.maximumFields else {
        throw DashboardError(
          status: .badRequest, code: "form_too_many_fields", message: "The form has too many fields.")
      }
      let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      guard let name = Self.decode(parts[0]), let value = Self.decode(parts.count > 1 ? parts[1] : "") else {
        throw DashboardError(status: .badRequest, code: "form_malformed", message: "The form could not be read.")
      }
      if fields[name] == nil { fields[name] = value }
    }
    self.fields = fields
  }

  /// The body of a POST, which must be a URL-encoded form of at most `maximumBodyBytes`.
  static func read(_ request: Request) async throws(DashboardError) -> DashboardForm {
    let contentType = request.headers[.contentType]?.lowercased() ?? ""
    guard contentType.hasPrefix("application/x-www-form-urlencoded") else {
      throw DashboardError(
        status: .unsupportedMediaType, code: "form_content_type",
        message: "Forms must be sent as application/x-www-form-urlencoded.")
    }
    let buffer: ByteBuffer
    do {
      var request = request
      buffer = try await request.collectBody(upTo: maximumBodyBytes)
    } catch {
      throw DashboardError(
        status: .contentTooLarge, code: "form_too_large", message: "The form must be at most 64 KiB.")
    }
    guard let text = String(validating: buffer.readableBytesView, as: UTF8.self) else {
      throw DashboardError(status: .badRequest, code: "form_malformed", message: "The form could not be read.")
    }
    return try DashboardForm(urlEncoded: Substring(text))
  }

  /// The query string of a GET form.
  static func query(_ request: Request) throws(DashboardError) -> DashboardForm {
    let query = request.uri.query ?? ""
    guard query.utf8.count <= maximumBodyBytes else {
      throw DashboardError(status: .badRequest, code: "query_too_long", message: "The address is too long.")
    }
    return try DashboardForm(urlEncoded: Substring(query))
  }

  subscript(_ name: String) -> String? { fields[name] }

  /// The field, or nil when absent or empty.
  func nonEmpty(_ name: String) -> String? {
    guard let value = fields[name], !value.isEmpty else { return nil }
    return value
  }

  private static func decode(_ text: Substring) -> String? {
    String(text.replacingOccurrences(of: "+", with: " ")).removingPercentEncoding
  }
}
