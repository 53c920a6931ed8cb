import Foundation
import RemitEngine

/// One request body: the JSON parser of the request path (`JSONTape`) and the JSON-RPC reader on
/// top of it must not crash, every string they accept must decode, and whatever the parser
/// accepts Foundation's JSONSerialization must accept too (the parser is stricter: it also
/// refuses duplicate keys and deep nesting, so the other direction is not checked). Where both
/// accept, they must read the same document: the same shape, every key and string value decoded
/// to the same bytes, and for JSON-RPC the same `method`, `params.name` and `id` of each message.
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
  var payload: JSONRPCPayload?
  if JSONRPCPayload.looksLikeJSONRPC(tape) { payload = try? JSONRPCPayload(tape: tape) }
  if let payload {
    for message in payload.messages { _ = payload.paramString(message, "name") }
  }
  _ = tape.location(of: tape.nodes.count - 1)
  // Foundation also refuses numbers that overflow a Double, which JSON's grammar allows and the
  // tape (which never converts numbers) accepts: only documents without one are compared.
  let numbersFit = tape.nodes.indices.allSatisfy {
    tape[$0].kind != .number || (Double(tape.rawText($0))?.isFinite ?? false)
  }
  guard numbersFit else { return 0 }
  guard let reference = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) else {
    fatalError("JSONTape accepted a document Foundation's parser rejects")
  }
  compare(tape, tape.root, reference, path: "$")
  if let payload { compare(payload, reference) }
  return 0
}

/// The bytes of a string, compared as bytes: Swift's `==` on strings is canonical equivalence, so
/// `"é"` and `"e\u0301"` would pass as the same.
func utf8(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Foundation's string for a value, if it is one (bridged or native).
func foundationString(_ value: Any) -> String? {
  if let text = value as? String { return text }
  if let text = value as? NSString { return text as String }
  return nil
}

/// Walks the tape node at `index` and Foundation's value side by side.
func compare(_ tape: JSONTape, _ index: Int, _ reference: Any, path: String) {
  let node = tape[index]
  switch node.kind {
  case .string:
    guard let text = foundationString(reference) else {
      fatalError("at \(path) the tape has a string, Foundation \(type(of: reference))")
    }
    guard utf8(tape.string(index)) == utf8(text) else {
      fatalError(
        "at \(path) the tape decodes \(tape.string(index).debugDescription), Foundation \(text.debugDescription)")
    }
  case .number, .true, .false:
    guard reference is NSNumber, foundationString(reference) == nil else {
      fatalError("at \(path) the tape has a \(node.kind), Foundation \(type(of: reference))")
    }
  case .null:
    guard reference is NSNull else { fatalError("at \(path) the tape has null, Foundation \(type(of: reference))") }
  case .array:
    guard let elements = reference as? [Any] else {
      fatalError("at \(path) the tape has an array, Foundation \(type(of: reference))")
    }
    guard elements.count == Int(node.count) else {
      fatalError("at \(path) the tape has \(node.count) elements, Foundation \(elements.count)")
    }
    for (offset, element) in tape.children(of: index).enumerated() {
      compare(tape, element, elements[offset], path: "\(path)[\(offset)]")
    }
  case .object:
    guard let members = reference as? [String: Any] else {
      fatalError("at \(path) the tape has an object, Foundation \(type(of: reference))")
    }
    // Keyed by bytes, not by String (whose hashing is canonical equivalence).
    var byBytes: [[UInt8]: Any] = [:]
    for (key, value) in members { byBytes[utf8(key)] = value }
    let keys = Array(tape.children(of: index)).enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
    if byBytes.count != keys.count {
      // Foundation keeps its members in a Swift dictionary, which takes keys that differ in bytes
      // but are canonically equivalent (`"é"` and `"e\u0301"`) for one key; the tape (like
      // RFC 8259 and the tools' parsers) keeps both. That is Foundation's reading, not a
      // disagreement on the document: allowed only when such keys are present.
      let decoded = keys.map { tape.string($0) }
      guard Set(decoded).count < decoded.count, Set(decoded.map(utf8)).count == decoded.count else {
        fatalError("at \(path) the tape has \(keys.count) members, Foundation \(members.count)")
      }
      return
    }
    for key in keys {
      let name = tape.string(key)
      guard let value = byBytes[utf8(name)] else {
        fatalError("at \(path) the tape has member \(name.debugDescription), Foundation does not")
      }
      compare(tape, Int(tape[key].next), value, path: "\(path)[\(name.debugDescription)]")
    }
  }
}

/// What the JSON-RPC reader extracts against the same members of Foundation's document.
func compare(_ payload: JSONRPCPayload, _ reference: Any) {
  let objects: [Any] = payload.isBatch ? (reference as? [Any] ?? []) : [reference]
  guard objects.count == payload.messages.count else {
    fatalError("the JSON-RPC reader sees \(payload.messages.count) messages, Foundation \(objects.count) values")
  }
  for (message, object) in zip(payload.messages, objects) {
    guard let members = object as? [String: Any] else { fatalError("a JSON-RPC message Foundation reads as no object") }
    let method = members["method"].flatMap(foundationString)
    guard message.method.map(utf8) == method.map(utf8) else {
      fatalError(
        "the JSON-RPC reader reads method \(String(describing: message.method)), Foundation \(String(describing: method))"
      )
    }
    // A response's params are not read (`Message.params` is nil for it).
    let name =
      message.kind == .response ? nil : (members["params"] as? [String: Any])?["name"].flatMap(foundationString)
    guard payload.paramString(message, "name").map(utf8) == name.map(utf8) else {
      fatalError(
        "the JSON-RPC reader reads params.name \(String(describing: payload.paramString(message, "name"))), Foundation \(String(describing: name))"
      )
    }
    // `idJSON` is the raw text of the member, echoed in a denial: read on its own it must be the
    // value Foundation finds under `id`.
    switch (message.idJSON, members["id"]) {
    case (nil, nil): break
    case (let raw?, let id?):
      guard let alone = try? JSONSerialization.jsonObject(with: Data(raw.utf8), options: [.fragmentsAllowed]) else {
        fatalError("the JSON-RPC id \(raw) does not parse on its own")
      }
      if let text = foundationString(id) {
        guard foundationString(alone).map(utf8) == utf8(text) else {
          fatalError("the JSON-RPC reader's id \(raw) is not Foundation's \(text.debugDescription)")
        }
      } else if let number = id as? NSNumber {
        guard let other = alone as? NSNumber, foundationString(alone) == nil, other == number else {
          fatalError("the JSON-RPC reader's id \(raw) is not Foundation's \(number)")
        }
      } else {
        guard id is NSNull, alone is NSNull else { fatalError("the JSON-RPC reader's id \(raw) is not Foundation's") }
      }
    case (let raw, let id):
      fatalError("the JSON-RPC reader's id is \(String(describing: raw)), Foundation's \(String(describing: id))")
    }
  }
}
