import EnvoyAPI
import RemitEngine
import SwiftProtobuf

/// Headers Remit sets on a denial, and never accepts from a caller.
public enum RemitHeader {
  public static let decisionID = "x-remit-decision-id"
  public static let reason = "x-remit-reason"
}

extension Decision {
  /// The Envoy contract (SPEC section 8). Policy outcomes are never gRPC errors: a deny is a
  /// `PERMISSION_DENIED` status inside a successful response, so Envoy's failOpen never applies.
  public func checkResponse(decisionID: String) -> Envoy_Service_Auth_V3_CheckResponse {
    var response = Envoy_Service_Auth_V3_CheckResponse()
    switch verdict {
    case .allow:
      response.status.code = 0
      var ok = Envoy_Service_Auth_V3_OkHttpResponse()
      ok.headers = headersToSet.map { Self.header($0.name, $0.value) }
      ok.headersToRemove = headersToRemove
      response.okResponse = ok
    case .deny:
      let reason = (self.reason ?? .internalError).rawValue
      response.status.code = 7  // PERMISSION_DENIED
      response.status.message = reason
      var denied = Envoy_Service_Auth_V3_DeniedHttpResponse()
      denied.status.code = .forbidden
      denied.headers = [
        Self.header("content-type", "application/json"),
        Self.header(RemitHeader.decisionID, decisionID),
        Self.header(RemitHeader.reason, reason),
      ]
      denied.body = denialBody(reason: reason, decisionID: decisionID)
      response.deniedResponse = denied
    }
    return response
  }

  /// A JSON-RPC error object per request id for a JSON-RPC body, so the agent's MCP or A2A
  /// client sees an error for the call it made; a plain JSON object otherwise.
  public func denialBody(reason: String, decisionID: String) -> String {
    guard let jsonRPC else {
      return #"{"error":"forbidden","reason":"\#(reason)","decision_id":"\#(decisionID)"}"#
    }
    let ids = jsonRPC.ids.isEmpty ? ["null"] : jsonRPC.ids
    let objects = ids.map { id in
      #"{"jsonrpc":"2.0","id":\#(id),"error":{"code":-32001,"message":"Forbidden: \#(reason)","data":{"reason":"\#(reason)","decision_id":"\#(decisionID)"}}}"#
    }
    return jsonRPC.isBatch ? "[" + objects.joined(separator: ",") + "]" : objects[0]
  }

  /// Header values overwrite: `append` is explicitly false (SPEC section 8).
  static func header(_ key: String, _ value: String) -> Envoy_Config_Core_V3_HeaderValueOption {
    var option = Envoy_Config_Core_V3_HeaderValueOption()
    option.header.key = key
    option.header.value = value
    option.append = Google_Protobuf_BoolValue(false)
    return option
  }
}
