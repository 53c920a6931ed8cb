// Swift half of scripts/check-protos-wire.sh (see there). Built in a scratch package together with
// a copy of Sources/EnvoyAPI.
//
//   WireCheck DIR   reads DIR/request.bin (a CheckRequest encoded by Envoy's own Python stubs) and
//                   writes what it decoded (request.swift.json, flattened like wire_check.py does),
//                   its re-encoding (request.swift.bin) and its proto3 JSON (request.swift.pb.json);
//                   then writes denied.bin / ok.bin (CheckResponses) and health.bin for Python.
import EnvoyAPI
import Foundation
import SwiftProtobuf

func fail(_ message: String) -> Never {
  FileHandle.standardError.write(Data("wire-check: FAIL: \(message)\n".utf8))
  exit(1)
}

guard CommandLine.arguments.count == 2 else { fail("usage: WireCheck DIR") }
let dir = URL(fileURLWithPath: CommandLine.arguments[1], isDirectory: true)

func write(_ data: Data, _ name: String) {
  do { try data.write(to: dir.appendingPathComponent(name)) } catch { fail("writing \(name): \(error)") }
}

// MARK: CheckRequest from Envoy's stubs

let requestBytes: Data
do { requestBytes = try Data(contentsOf: dir.appendingPathComponent("request.bin")) } catch { fail("\(error)") }
let request: Envoy_Service_Auth_V3_CheckRequest
do { request = try Envoy_Service_Auth_V3_CheckRequest(serializedBytes: requestBytes) } catch {
  fail("decoding CheckRequest: \(error)")
}

func peer(_ p: Envoy_Service_Auth_V3_AttributeContext.Peer) -> [String: Any] {
  var address = ""
  if case .socketAddress(let socket)? = p.address.address {
    address = "\(socket.address):\(socket.portValue)"
  }
  return [
    "principal": p.principal, "service": p.service, "certificate": p.certificate,
    "labels": p.labels, "address": address,
  ]
}

let attributes = request.attributes
let http = attributes.request.http
let flat: [String: Any] = [
  "source": peer(attributes.source),
  "destination": peer(attributes.destination),
  "time": "\(attributes.request.time.seconds).\(attributes.request.time.nanos)",
  "http": [
    "id": http.id, "method": http.method, "path": http.path, "host": http.host,
    "scheme": http.scheme, "query": http.query, "fragment": http.fragment,
    "protocol": http.protocol, "size": String(http.size), "body": http.body,
    "headers": http.headers,
    "header_map": http.headerMap.headers.map { [$0.key, $0.value, $0.rawValue.base64EncodedString()] },
    "raw_body": http.rawBody.base64EncodedString(),
  ] as [String: Any],
  "context_extensions": attributes.contextExtensions,
  "sni": attributes.tlsSession.sni,
]
do {
  write(try JSONSerialization.data(withJSONObject: flat, options: [.sortedKeys, .prettyPrinted]), "request.swift.json")
  write(try request.serializedBytes(), "request.swift.bin")
  write(Data(try request.jsonString().utf8), "request.swift.pb.json")
} catch { fail("encoding CheckRequest: \(error)") }
print("WireCheck: decoded CheckRequest from \(attributes.source.principal) \(http.method) \(http.host)\(http.path)")
print("WireCheck:   destination \(attributes.destination.principal), sni \(attributes.tlsSession.sni), \(http.rawBody.count) body bytes")

// MARK: CheckResponses for Envoy's stubs

func header(_ key: String, _ value: String, append: Bool? = false) -> Envoy_Config_Core_V3_HeaderValueOption {
  var option = Envoy_Config_Core_V3_HeaderValueOption()
  option.header.key = key
  option.header.value = value
  if let append { option.append = Google_Protobuf_BoolValue(append) }
  return option
}

var denied = Envoy_Service_Auth_V3_CheckResponse()
denied.status.code = 7  // PERMISSION_DENIED
denied.status.message = "forbidden: tool not allowed"
var deniedHTTP = Envoy_Service_Auth_V3_DeniedHttpResponse()
deniedHTTP.status.code = .forbidden
deniedHTTP.headers = [
  header("content-type", "application/json"),
  header("x-remit-decision-id", "d-42"),
  header("x-remit-reason", "tool_not_allowed"),
]
deniedHTTP.body = #"{"jsonrpc":"2.0","id":7,"error":{"code":-32001,"message":"forbidden"}}"#
denied.deniedResponse = deniedHTTP
denied.dynamicMetadata = Google_Protobuf_Struct(fields: [
  "remit": Google_Protobuf_Value(structValue: Google_Protobuf_Struct(fields: ["decision_id": Google_Protobuf_Value(stringValue: "d-42")]))
])

var ok = Envoy_Service_Auth_V3_CheckResponse()
ok.status = Google_Rpc_Status()  // code 0, present
var okHTTP = Envoy_Service_Auth_V3_OkHttpResponse()
var principal = header("x-remit-principal", "spiffe://remit.test/ns/agents/sa/research-agent")
principal.appendAction = .overwriteIfExistsOrAdd
okHTTP.headers = [principal]
okHTTP.headersToRemove = ["authorization", "x-remit-internal"]
okHTTP.responseHeadersToAdd = [header("x-remit-decision-id", "d-43", append: nil)]
var tenant = Envoy_Config_Core_V3_QueryParameter()
tenant.key = "tenant"
tenant.value = "acme"
okHTTP.queryParametersToSet = [tenant]
okHTTP.queryParametersToRemove = ["debug"]
ok.okResponse = okHTTP

var health = Grpc_Health_V1_HealthCheckResponse()
health.status = .serving

do {
  write(try denied.serializedBytes(), "denied.bin")
  write(try ok.serializedBytes(), "ok.bin")
  write(try health.serializedBytes(), "health.bin")
} catch { fail("encoding responses: \(error)") }
print("WireCheck: wrote denied/ok CheckResponses and a HealthCheckResponse")
