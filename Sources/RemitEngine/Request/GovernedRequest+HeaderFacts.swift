extension GovernedRequest.HTTPRequest {
  /// The headers the engine reads, found in one pass over the header map when the request is
  /// made (or its headers change). A dictionary lookup hashes its key, and a decision asked a
  /// dozen times; the names below all differ in length, so the pass compares one name per header.
  struct HeaderFacts: Sendable {
    var contentType: String?
    var contentEncoding: String?
    var contentLength: String?
    var partialBody: String?
    /// `x-http-method-override`, `x-http-method`, `x-method-override`, in that order.
    var methodOverrides: (String?, String?, String?) = (nil, nil, nil)
    /// Whether any header name starts with `x-remit-`.
    var hasRemitHeader = false
    /// `application/json` or a `+json` media type.
    var isJSON = false

    init(_ headers: [String: String]) {
      for (name, value) in headers {
        switch name.utf8.count {
        case 12 where name == "content-type": contentType = value
        case 13 where name == "x-http-method": methodOverrides.1 = value
        case 14 where name == "content-length": contentLength = value
        case 16 where name == "content-encoding": contentEncoding = value
        case 17 where name == "x-method-override": methodOverrides.2 = value
        case 22 where name == "x-http-method-override": methodOverrides.0 = value
        case 25 where name == "x-envoy-auth-partial-body": partialBody = value
        default: break
        }
        if !hasRemitHeader && Self.startsWithRemitPrefix(name) { hasRemitHeader = true }
      }
      isJSON = contentType.map(Self.isJSONMediaType) ?? false
    }

    static func startsWithRemitPrefix(_ name: String) -> Bool {
      var name = name
      return name.withUTF8 { bytes in
        bytes.count >= 8 && bytes[0] == UInt8(ascii: "x") && bytes[1] == UInt8(ascii: "-")
          && bytes[2] == UInt8(ascii: "r") && bytes[3] == UInt8(ascii: "e") && bytes[4] == UInt8(ascii: "m")
          && bytes[5] == UInt8(ascii: "i") && bytes[6] == UInt8(ascii: "t") && bytes[7] == UInt8(ascii: "-")
      }
    }

    /// `application/json` or any `+json` media type, parameters ignored; on the bytes.
    static func isJSONMediaType(_ contentType: String) -> Bool {
      var value = contentType
      return value.withUTF8 { bytes in
        var end = bytes.firstIndex(of: UInt8(ascii: ";")) ?? bytes.endIndex
        var start = bytes.startIndex
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        let mediaType = UnsafeBufferPointer(rebasing: bytes[start..<end])
        return GovernedRequest.HTTPRequest.equalsIgnoringASCIICase(
          mediaType, GovernedRequest.HTTPRequest.applicationJSON)
          || (mediaType.count >= 5
            && GovernedRequest.HTTPRequest.equalsIgnoringASCIICase(
              UnsafeBufferPointer(rebasing: mediaType[(mediaType.endIndex - 5)...]),
              GovernedRequest.HTTPRequest.plusJSON))
      }
    }
  }
}
