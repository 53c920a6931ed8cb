import Foundation
import RemitEngine

/// One request body: the JSON parser of the request path (`JSONTape`) and the JSON-RPC reader on
/// top of it must not crash, every string they accept must decode, and whatever the parser
/// accepts Foundation's JSONSerialization must accept too (the parser is stricter: it also
/// refuses duplicate keys and deep nesting, so the other direction is not checked).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONBody(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
  let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
  guard let tape = try? JSONTape(parsing: bytes) else { return 0 }
  for index in tape.nodes.indices where tape[index].kind == .string {
    let text = tape.string(index)
    guard text.utf8.count <= Int(tape[index].end - tape[index].start) else {
      fatalError("a decoded string is longer than its escaped form")
    }
  }
  if JSONRPCPayload.looksLikeJSONRPC(tape), let payload = try? JSONRPCPayload(tape: tape) {
    for message in payload.messages { _ = payload.paramString(message, "name") }
  }
  _ = tape.location(of: tape.nodes.count - 1)
  // Foundation also refuses numbers that overflow a Double, which JSON's grammar allows and the
  // tape (which never converts numbers) accepts: only documents without one are compared.
  let numbersFit = tape.nodes.indices.allSatisfy {
    tape[$0].kind != .number || (Double(tape.rawText($0))?.isFinite ?? false)
  }
  if numbersFit, (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) == nil {
    fatalError("JSONTape accepted a document Foundation's parser rejects")
  }
  return 0
}
