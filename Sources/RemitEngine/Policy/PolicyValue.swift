/// A schemaless view of a YAML or JSON document, used to find keys the model does not know.
enum PolicyValue: Codable, Equatable {
  case null
  case scalar
  case array([PolicyValue])
  case object([String: PolicyValue])

  /// The tree of a JSON document, read with the engine's strict parser (`JSONTape`: RFC 8259,
  /// bounded, fuzzed). Decoding the tree through `Decodable` (below, kept as the reference the
  /// tests compare with) tries each container kind in turn and pays for a thrown error with its
  /// coding path at every node: 60% of loading a 10,000-agent policy (perf; BENCHMARKS.md).
  /// A key given twice is an error here, where JSONDecoder would silently use one copy.
  init(json bytes: [UInt8]) throws(JSONTape.Failure) {
    let limits = JSONTape.Limits(maximumDepth: 128, maximumNodes: PolicyDocument.maximumYAMLNodes)
    let tape = try JSONTape(parsing: bytes, limits: limits)
    self.init(tape: tape, node: tape.root)
  }

  /// Recursion is bounded by the tape's depth limit.
  init(tape: JSONTape, node index: Int) {
    switch tape[index].kind {
    case .object:
      var fields: [String: PolicyValue] = [:]
      fields.reserveCapacity(Int(tape[index].count) / 2)
      var children = tape.children(of: index).makeIterator()
      while let key = children.next(), let value = children.next() {
        fields[tape.string(key)] = PolicyValue(tape: tape, node: value)
      }
      self = .object(fields)
    case .array:
      self = .array(tape.children(of: index).map { PolicyValue(tape: tape, node: $0) })
    case .null:
      self = .null
    case .string, .number, .true, .false:
      self = .scalar
    }
  }

  init(from decoder: any Decoder) throws {
    if var array = try? decoder.unkeyedContainer() {
      var elements: [PolicyValue] = []
      while !array.isAtEnd {
        elements.append(try array.decode(PolicyValue.self))
      }
      self = .array(elements)
      return
    }
    if let object = try? decoder.container(keyedBy: AnyKey.self) {
      var fields: [String: PolicyValue] = [:]
      for key in object.allKeys {
        fields[key.stringValue] = try object.decode(PolicyValue.self, forKey: key)
      }
      self = .object(fields)
      return
    }
    let single = try decoder.singleValueContainer()
    self = single.decodeNil() ? .null : .scalar
  }

  func encode(to encoder: any Encoder) throws {
    // Only decoded, never encoded; present to satisfy Codable for symmetry in tests.
    var container = encoder.singleValueContainer()
    try container.encodeNil()
  }

  /// Paths of keys present (with a non-null value) in `self` but absent in `known`.
  func unknownKeys(comparedTo known: PolicyValue, path: String = "") -> [String] {
    switch (self, known) {
    case (.object(let fields), .object(let knownFields)):
      var found: [String] = []
      for key in fields.keys.sorted() {
        guard let value = fields[key], value != .null else { continue }
        let childPath = path.isEmpty ? key : "\(path).\(key)"
        if let knownValue = knownFields[key] {
          found += value.unknownKeys(comparedTo: knownValue, path: childPath)
        } else {
          found.append(childPath)
        }
      }
      return found
    case (.array(let elements), .array(let knownElements)):
      var found: [String] = []
      for (index, element) in elements.enumerated() where index < knownElements.count {
        found += element.unknownKeys(comparedTo: knownElements[index], path: "\(path)[\(index)]")
      }
      return found
    default:
      return []
    }
  }
}

struct AnyKey: CodingKey {
  var stringValue: String
  var intValue: Int?

  init(stringValue: String) {
    self.stringValue = stringValue
    self.intValue = nil
  }

  init(intValue: Int) {
    self.stringValue = String(intValue)
    self.intValue = intValue
  }
}
