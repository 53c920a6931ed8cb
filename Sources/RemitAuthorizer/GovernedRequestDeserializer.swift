import GRPCCore
import RemitEngine
import RemitEnvoy

/// Turns a Check's bytes into the engine's request without building the generated
/// `CheckRequest` first (`GovernedRequest(checkRequestBytes:)`; BENCHMARKS.md, "Check in
/// process"). Bytes that are not a CheckRequest are `INVALID_ARGUMENT`, as with the generated
/// deserializer, so Envoy fails closed.
struct GovernedRequestDeserializer: MessageDeserializer {
  func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> GovernedRequest {
    let decoded = serializedMessageBytes.withUnsafeBytes { buffer in
      Result { () throws(CheckRequestDecodingError) in try GovernedRequest(checkRequestBytes: buffer) }
    }
    switch decoded {
    case .success(let request): return request
    case .failure(let error): throw RPCError(code: .invalidArgument, message: error.description)
    }
  }
}
