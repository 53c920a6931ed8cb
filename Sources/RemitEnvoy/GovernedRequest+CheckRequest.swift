import EnvoyAPI
import RemitEngine

extension GovernedRequest {
  /// The facts of an Envoy `CheckRequest`. HTTP checks carry `attributes.request.http`; network
  /// (TCP) checks do not.
  public init(_ check: Envoy_Service_Auth_V3_CheckRequest) {
    let attributes = check.attributes
    var http: HTTPRequest?
    if attributes.request.hasHTTP {
      let request = attributes.request.http
      var headers = request.headers
      if headers.isEmpty && request.hasHeaderMap {
        // Envoy sends header_map instead of headers when configured to encode raw headers;
        // repeated names are joined with "," exactly as the headers map would.
        for header in request.headerMap.headers {
          let value = header.rawValue.isEmpty ? header.value : String(decoding: header.rawValue, as: UTF8.self)
          let name = header.key.lowercased()
          if let existing = headers[name] { headers[name] = existing + "," + value } else { headers[name] = value }
        }
      }
      let body: [UInt8] = request.rawBody.isEmpty ? Array(request.body.utf8) : Array(request.rawBody)
      http = HTTPRequest(
        method: request.method,
        path: request.path,
        host: request.host,
        scheme: request.scheme,
        headers: headers,
        body: body
      )
    }
    self.init(
      sourcePrincipal: attributes.source.principal,
      destinationPrincipal: attributes.destination.principal,
      destinationService: attributes.destination.service,
      tlsServerName: attributes.tlsSession.sni,
      http: http
    )
  }
}
