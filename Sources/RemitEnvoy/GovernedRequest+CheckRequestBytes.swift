import RemitEngine

extension GovernedRequest {
  /// The facts of an Envoy `CheckRequest`, read straight from its protobuf bytes: the same result
  /// as decoding an `Envoy_Service_Auth_V3_CheckRequest` and calling `init(_:)`, for every message
  /// SwiftProtobuf accepts (Tests/RemitEnvoyTests/CheckRequestBytesTests.swift compares the two).
  /// It exists because the generic runtime spent more time decoding a request than the engine
  /// spent deciding it (BENCHMARKS.md, "Check in process").
  ///
  /// Rules it keeps from the protobuf runtime: fields in any order; a repeated singular message is
  /// merged, a repeated scalar is last-wins; a known field with another wire type is an unknown
  /// field; unknown fields and groups are skipped (groups nest at most 100 deep); every `string`
  /// field of the messages below is well-formed UTF-8 whether Remit reads it or not. Messages
  /// Remit never reads (`Peer.address`, `Request.time`) are skipped without looking inside.
  public init(checkRequestBytes bytes: UnsafeRawBufferPointer) throws(CheckRequestDecodingError) {
    var facts = CheckRequestFacts()
    var reader = ProtobufWireReader(bytes, message: "CheckRequest")
    // The runtime's nesting budget of 100, one spent on the CheckRequest itself.
    try facts.readCheckRequest(&reader, depth: 99)
    self = facts.governedRequest()
  }
}

/// What a `CheckRequest` says that the engine needs, filled in wire order so that merging and
/// last-wins fall out of reading every occurrence into the same place.
private struct CheckRequestFacts {
  typealias Failure = CheckRequestDecodingError
  typealias Reader = ProtobufWireReader

  var sourcePrincipal = ""
  var destinationPrincipal = ""
  var destinationService = ""
  var tlsServerName = ""
  var hasHTTP = false
  var method = ""
  var path = ""
  var host = ""
  var scheme = ""
  var headers: [String: String] = [:]
  var hasHeaderMap = false
  /// `header_map` entries: name as sent, value (`raw_value` when set).
  var headerMap: [(name: String, value: String)] = []
  var body = UnsafeRawBufferPointer(start: nil, count: 0)
  var rawBody = UnsafeRawBufferPointer(start: nil, count: 0)

  /// The body of a length-delimited field as a message of its own, and what is left of the
  /// nesting budget inside it.
  static func enter(_ reader: inout Reader, _ name: StaticString, _ depth: Int) throws(Failure) -> (Reader, Int) {
    let bytes = try reader.lengthDelimited()
    guard depth > 0 else { throw Failure(.tooDeep, in: "\(name)") }
    return (Reader(bytes, message: name), depth &- 1)
  }

  /// One entry of a `map<string, string>`: key 1 and value 2, both defaulting to "". As in the
  /// runtime, an entry field sent with another wire type is not skipped: reading goes on right
  /// after its tag.
  static func mapEntry(_ reader: inout Reader, depth: Int) throws(Failure) -> (key: String, value: String) {
    var entry = Reader(try reader.lengthDelimited(), message: "map entry")
    var key: String?
    var value: String?
    while let tag = try entry.nextTag() {
      guard tag.wireType != .endGroup else { throw entry.fail(.malformed) }
      switch tag.number {
      case 1: if tag.wireType == .lengthDelimited { key = try entry.string() }
      case 2: if tag.wireType == .lengthDelimited { value = try entry.string() }
      default: try entry.skip(tag, depth: depth)
      }
    }
    return (key ?? "", value ?? "")
  }

  /// `depth` is what is left of the nesting budget once this message is counted.
  mutating func readCheckRequest(_ reader: inout Reader, depth: Int) throws(Failure) {
    while let tag = try reader.nextField() {
      switch (tag.number, tag.wireType) {
      case (1, .lengthDelimited):
        var (inner, innerDepth) = try Self.enter(&reader, "AttributeContext", depth)
        try readAttributeContext(&inner, depth: innerDepth)
      default: try reader.skip(tag, depth: depth)
      }
    }
  }

  mutating func readAttributeContext(_ reader: inout Reader, depth: Int) throws(Failure) {
    while let tag = try reader.nextField() {
      switch (tag.number, tag.wireType) {
      case (1, .lengthDelimited), (2, .lengthDelimited):
        var (inner, innerDepth) = try Self.enter(&reader, "AttributeContext.Peer", depth)
        try readPeer(&inner, depth: innerDepth, isSource: tag.number == 1)
      case (4, .lengthDelimited):
        var (inner, innerDepth) = try Self.enter(&reader, "AttributeContext.Request", depth)
        try readRequest(&inner, depth: innerDepth)
      case (10, .lengthDelimited):
        // context_extensions: route metadata the operator sets; checked, not read.
        _ = try Self.mapEntry(&reader, depth: depth)
      case (12, .lengthDelimited):
        var (inner, innerDepth) = try Self.enter(&reader, "AttributeContext.TLSSession", depth)
        while let tag = try inner.nextField() {
          switch (tag.number, tag.wireType) {
          case (1, .lengthDelimited): tlsServerName = try inner.string()
          default: try inner.skip(tag, depth: innerDepth)
          }
        }
      default: try reader.skip(tag, depth: depth)
      }
    }
  }

  /// Source and destination: the engine reads both principals and the destination's service.
  mutating func readPeer(_ reader: inout Reader, depth: Int, isSource: Bool) throws(Failure) {
    while let tag = try reader.nextField() {
      switch (tag.number, tag.wireType) {
      case (2, .lengthDelimited):
        if isSource { try reader.checkString() } else { destinationService = try reader.string() }
      case (3, .lengthDelimited):
        _ = try Self.mapEntry(&reader, depth: depth)  // labels
      case (4, .lengthDelimited):
        let principal = try reader.string()
        if isSource { sourcePrincipal = principal } else { destinationPrincipal = principal }
      case (5, .lengthDelimited):
        try reader.checkString()  // certificate
      default: try reader.skip(tag, depth: depth)  // address included
      }
    }
  }

  mutating func readRequest(_ reader: inout Reader, depth: Int) throws(Failure) {
    while let tag = try reader.nextField() {
      switch (tag.number, tag.wireType) {
      case (2, .lengthDelimited):
        var (inner, innerDepth) = try Self.enter(&reader, "AttributeContext.HttpRequest", depth)
        hasHTTP = true
        try readHTTPRequest(&inner, depth: innerDepth)
      default: try reader.skip(tag, depth: depth)  // time included
      }
    }
  }

  mutating func readHTTPRequest(_ reader: inout Reader, depth: Int) throws(Failure) {
    while let tag = try reader.nextField() {
      switch (tag.number, tag.wireType) {
      case (2, .lengthDelimited): method = try reader.string()
      case (3, .lengthDelimited):
        let (name, value) = try Self.mapEntry(&reader, depth: depth)
        // Envoy sends a dozen or so; growing from empty would rehash three times.
        if headers.isEmpty { headers.reserveCapacity(16) }
        headers[name] = value
      case (4, .lengthDelimited): path = try reader.string()
      case (5, .lengthDelimited): host = try reader.string()
      case (6, .lengthDelimited): scheme = try reader.string()
      case (1, .lengthDelimited), (7, .lengthDelimited), (8, .lengthDelimited), (10, .lengthDelimited):
        try reader.checkString()  // id, query, fragment, protocol
      case (9, .varint): _ = try reader.varint()  // size
      case (11, .lengthDelimited):
        let value = try reader.lengthDelimited()
        guard UTF8Validation.isValid(value) else { throw reader.fail(.invalidUTF8) }
        body = value
      case (12, .lengthDelimited): rawBody = try reader.lengthDelimited()
      case (13, .lengthDelimited):
        var (inner, innerDepth) = try Self.enter(&reader, "config.core.v3.HeaderMap", depth)
        hasHeaderMap = true
        try readHeaderMap(&inner, depth: innerDepth)
      default: try reader.skip(tag, depth: depth)
      }
    }
  }

  mutating func readHeaderMap(_ reader: inout Reader, depth: Int) throws(Failure) {
    while let tag = try reader.nextField() {
      switch (tag.number, tag.wireType) {
      case (1, .lengthDelimited):
        // Each element of a repeated message starts empty.
        var (inner, innerDepth) = try Self.enter(&reader, "config.core.v3.HeaderValue", depth)
        var key = ""
        var value = ""
        var rawValue = UnsafeRawBufferPointer(start: nil, count: 0)
        while let tag = try inner.nextField() {
          switch (tag.number, tag.wireType) {
          case (1, .lengthDelimited): key = try inner.string()
          case (2, .lengthDelimited): value = try inner.string()
          case (3, .lengthDelimited): rawValue = try inner.lengthDelimited()
          default: try inner.skip(tag, depth: innerDepth)
          }
        }
        headerMap.append((key, rawValue.isEmpty ? value : String(decoding: rawValue, as: UTF8.self)))
      default: try reader.skip(tag, depth: depth)
      }
    }
  }

  /// The same construction as `GovernedRequest.init(_:)` on the decoded message.
  func governedRequest() -> GovernedRequest {
    var http: GovernedRequest.HTTPRequest?
    if hasHTTP {
      var headers = headers
      if headers.isEmpty && hasHeaderMap {
        for (name, value) in headerMap {
          let name = name.lowercased()
          if let existing = headers[name] { headers[name] = existing + "," + value } else { headers[name] = value }
        }
      }
      http = GovernedRequest.HTTPRequest(
        method: method, path: path, host: host, scheme: scheme, headers: headers,
        body: rawBody.isEmpty ? Array(body) : Array(rawBody)
      )
    }
    return GovernedRequest(
      sourcePrincipal: sourcePrincipal,
      destinationPrincipal: destinationPrincipal,
      destinationService: destinationService,
      tlsServerName: tlsServerName,
      http: http
    )
  }
}
