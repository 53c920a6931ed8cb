extension JSONTape {
  /// The innermost node whose text contains byte `offset` (a string's quotes count as its own).
  /// Descends from the root along `next` links: cost is the depth times the breadth walked.
  public func node(containing offset: Int) -> Int? {
    guard !nodes.isEmpty, contains(node: root, offset: offset) else { return nil }
    var current = root
    descend: while nodes[current].kind == .object || nodes[current].kind == .array {
      for child in children(of: current) where contains(node: child, offset: offset) {
        current = child
        continue descend
      }
      break
    }
    return current
  }

  private func contains(node index: Int, offset: Int) -> Bool {
    let node = nodes[index]
    let start = node.kind == .string ? Int(node.start) - 1 : Int(node.start)
    let end = node.kind == .string ? Int(node.end) + 1 : Int(node.end)
    return offset >= start && offset < end
  }

  /// A JSONPath-like location of a node (`$.params.arguments.card`, `$[0].params.items[2]`), for
  /// findings. Object keys are names, not values, but a caller chooses them: a key that is not a
  /// short identifier is shown as `[?]` so the location never carries arbitrary request text.
  public func location(of target: Int) -> String {
    var location = "$"
    var current = root
    var depth = 0
    while current != target, depth < 64 {
      depth += 1
      let node = nodes[current]
      guard node.kind == .object || node.kind == .array, target > current, target < Int(node.next) else { break }
      var iterator = children(of: current).makeIterator()
      var index = 0
      var found = false
      while let child = iterator.next() {
        if node.kind == .object {
          guard let value = iterator.next() else { break }
          // A key node itself: report the object that holds it.
          if child == target { return location }
          if target >= value && target < Int(nodes[value].next) {
            location += Self.locationComponent(forKey: string(child))
            current = value
            found = true
            break
          }
        } else {
          if target >= child && target < Int(nodes[child].next) {
            location += "[\(index)]"
            current = child
            found = true
            break
          }
          index += 1
        }
      }
      if !found { break }
    }
    return location
  }

  static func locationComponent(forKey key: String) -> String {
    let isIdentifier =
      !key.isEmpty && key.utf8.count <= 64
      && key.utf8.allSatisfy {
        DNSName.isLowerAlnum($0) || ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) || $0 == UInt8(ascii: "_")
          || $0 == UInt8(ascii: "-")
      }
    return isIdentifier ? ".\(key)" : "[?]"
  }
}
