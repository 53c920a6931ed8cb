import EnvoyAPI
import RemitEngine
import RemitEnvoy
import SwiftProtobuf

/// One input: the hand-written CheckRequest reader must not crash, and wherever SwiftProtobuf
/// accepts the bytes it must accept them too, with the same facts (the property
/// Tests/RemitEnvoyTests/CheckRequestBytesTests.swift checks on generated inputs).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckRequest(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
  let bytes = UnsafeRawBufferPointer(start: start, count: count)
  let read = try? GovernedRequest(checkRequestBytes: bytes)
  guard let message = try? Envoy_Service_Auth_V3_CheckRequest(serializedBytes: Array(bytes)) else { return 0 }
  guard let read else { fatalError("the reader rejected a CheckRequest SwiftProtobuf accepts") }
  let reference = GovernedRequest(message)
  guard
    read.sourcePrincipal == reference.sourcePrincipal,
    read.destinationPrincipal == reference.destinationPrincipal,
    read.destinationService == reference.destinationService,
    read.tlsServerName == reference.tlsServerName,
    read.http?.method == reference.http?.method,
    read.http?.path == reference.http?.path,
    read.http?.host == reference.http?.host,
    read.http?.scheme == reference.http?.scheme,
    read.http?.headers == reference.http?.headers,
    read.http?.body == reference.http?.body,
    (read.http == nil) == (reference.http == nil)
  else { fatalError("the reader and SwiftProtobuf disagree on a CheckRequest") }
  return 0
}
