/// A compiled name glob: `*` matches any run of characters, everything else matches itself.
/// Used for tool, resource, prompt and method names. Compiled once per snapshot.
public struct Glob: Sendable, Hashable, CustomStringConvertible {
  enum Shape: Sendable, Hashable {
    case any
    case exact([UInt8])
    case prefix([UInt8])
    case suffix([UInt8])
    /// `parts[0]` is a prefix, `parts.last` a suffix, the rest must appear in order between.
    case general([[UInt8]])
  }

  let shape: Shape
  public let pattern: String

  public init(_ pattern: String) {
    self.pattern = pattern
    let parts = pattern.utf8.split(separator: UInt8(ascii: "*"), omittingEmptySubsequences: false).map(Array.init)
    if parts.count == 1 {
      shape = .exact(parts[0])
    } else if parts.allSatisfy(\.isEmpty) {
      shape = .any
    } else if parts.count == 2 && parts[1].isEmpty {
      shape = .prefix(parts[0])
    } else if parts.count == 2 && parts[0].isEmpty {
      shape = .suffix(parts[1])
    } else {
      shape = .general(parts)
    }
  }

  public var isWildcard: Bool {
    if case .exact = shape { return false }
    return true
  }

  public func matches(_ candidate: String) -> Bool {
    var candidate = candidate
    return candidate.withUTF8 { matches(utf8: $0) }
  }

  public func matches(utf8 candidate: UnsafeBufferPointer<UInt8>) -> Bool {
    switch shape {
    case .any:
      return true
    case .exact(let bytes):
      return candidate.count == bytes.count && candidate.elementsEqual(bytes)
    case .prefix(let bytes):
      return candidate.count >= bytes.count && candidate.prefix(bytes.count).elementsEqual(bytes)
    case .suffix(let bytes):
      return candidate.count >= bytes.count && candidate.suffix(bytes.count).elementsEqual(bytes)
    case .general(let parts):
      return Self.matchGeneral(parts, candidate)
    }
  }

  private static func matchGeneral(_ parts: [[UInt8]], _ candidate: UnsafeBufferPointer<UInt8>) -> Bool {
    guard let first = parts.first, let last = parts.last else { return false }
    guard candidate.count >= first.count + last.count,
      candidate.prefix(first.count).elementsEqual(first),
      candidate.suffix(last.count).elementsEqual(last)
    else { return false }
    // Leftmost match of each middle part is optimal for `*`-only globs.
    var position = first.count
    let limit = candidate.count - last.count
    for part in parts.dropFirst().dropLast() where !part.isEmpty {
      guard let found = firstIndex(of: part, in: candidate, from: position, to: limit) else { return false }
      position = found + part.count
    }
    return true
  }

  private static func firstIndex(
    of needle: [UInt8],
    in haystack: UnsafeBufferPointer<UInt8>,
    from start: Int,
    to end: Int
  ) -> Int? {
    guard needle.count <= end - start, let head = needle.first else { return nil }
    var index = start
    while index + needle.count <= end {
      if haystack[index] == head {
        var matched = true
        for offset in 1..<needle.count where haystack[index + offset] != needle[offset] {
          matched = false
          break
        }
        if matched { return index }
      }
      index += 1
    }
    return nil
  }

  public var description: String { pattern }
}

/// A set of globs answering "does any match?" with exact names in a hash set.
public struct GlobSet: Sendable {
  var exact: Set<String> = []
  var wildcards: [Glob] = []

  public init(_ patterns: [String]) {
    for pattern in patterns {
      let glob = Glob(pattern)
      if glob.isWildcard { wildcards.append(glob) } else { exact.insert(pattern) }
    }
  }

  public var isEmpty: Bool { exact.isEmpty && wildcards.isEmpty }

  public func matches(_ candidate: String) -> Bool {
    if exact.contains(candidate) { return true }
    guard !wildcards.isEmpty else { return false }
    var candidate = candidate
    return candidate.withUTF8 { buffer in wildcards.contains { $0.matches(utf8: buffer) } }
  }
}

/// A destination pattern `namespace/serviceAccount` where either side may use `*`.
public struct WorkloadPattern: Sendable, Hashable, CustomStringConvertible {
  public let namespace: Glob
  public let serviceAccount: Glob

  public init?(_ pattern: String) {
    let parts = pattern.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
    namespace = Glob(String(parts[0]))
    serviceAccount = Glob(String(parts[1]))
  }

  public var isExact: Bool { !namespace.isWildcard && !serviceAccount.isWildcard }

  public func matches(namespace: String, serviceAccount: String) -> Bool {
    self.namespace.matches(namespace) && self.serviceAccount.matches(serviceAccount)
  }

  public var description: String { "\(namespace.pattern)/\(serviceAccount.pattern)" }
}

/// An HTTP path glob: `*` within a segment matches any characters but `/`; a `**` segment
/// matches any number of segments, including none.
public struct PathGlob: Sendable, Hashable, CustomStringConvertible {
  enum Segment: Sendable, Hashable {
    case any
    case glob(Glob)
  }

  let segments: [Segment]
  public let pattern: String

  public init(_ pattern: String) {
    self.pattern = pattern
    segments = pattern.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { segment in
      segment == "**" ? .any : .glob(Glob(String(segment)))
    }
  }

  /// `path` is the hygienic path (starts with `/`, no query).
  public func matches(_ path: String) -> Bool {
    // Split once: each segment is compared against several pattern segments.
    let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
    // Dynamic programming over (pattern prefix, path prefix): O(segments × parts) whatever
    // the number of `**`, so a hostile path cannot make matching exponential.
    var reachable = [Bool](repeating: false, count: parts.count + 1)
    reachable[0] = true
    for segment in segments {
      switch segment {
      case .any:
        var seen = false
        for index in reachable.indices {
          seen = seen || reachable[index]
          reachable[index] = seen
        }
      case .glob(let glob):
        var index = parts.count
        while index > 0 {
          reachable[index] = reachable[index - 1] && glob.matches(parts[index - 1])
          index -= 1
        }
        reachable[0] = false
      }
    }
    return reachable[parts.count]
  }

  public var description: String { pattern }
}

/// An egress host pattern: an exact host name or IP literal, or `*.suffix` for any name below it.
public struct HostPattern: Sendable, Hashable, CustomStringConvertible {
  public let pattern: String
  let suffix: String?

  public init(_ pattern: String) {
    let lowered = pattern.lowercased()
    self.pattern = lowered
    suffix = lowered.hasPrefix("*.") ? String(lowered.dropFirst(1)) : nil
  }

  /// `host` must already be lowercased and stripped of its port.
  public func matches(_ host: String) -> Bool {
    if let suffix { return host.count > suffix.count && host.hasSuffix(suffix) }
    return host == pattern
  }

  public var description: String { pattern }
}
