import Foundation
import RemitEngine
import Synchronization

/// Where a static secret comes from on a policy file (SPEC section 7): a file (a mounted
/// Kubernetes Secret) or an environment variable, named in configuration. With a control plane,
/// secrets arrive sealed to the pod's transport key instead.
public enum SecretSource: Sendable, Equatable, CustomStringConvertible {
  case file(String)
  case environment(String)

  /// `NAME=file:/path` or `NAME=env:VARIABLE`.
  public static func parse(_ text: String) throws(ConfigurationError) -> (name: String, source: SecretSource) {
    guard let equals = text.firstIndex(of: "=") else {
      throw ConfigurationError(
        code: "secret_option_invalid", message: "--secret must be NAME=file:PATH or NAME=env:VARIABLE")
    }
    let name = String(text[..<equals])
    let rest = text[text.index(after: equals)...]
    guard PolicyRules.nameTokenProblem(name) == nil else {
      throw ConfigurationError(
        code: "secret_option_invalid", message: "secret names are 1-128 characters of A-Z, a-z, 0-9, ., _ and -")
    }
    if rest.hasPrefix("file:"), rest.count > 5 { return (name, .file(String(rest.dropFirst(5)))) }
    if rest.hasPrefix("env:"), rest.count > 4 { return (name, .environment(String(rest.dropFirst(4)))) }
    throw ConfigurationError(
      code: "secret_option_invalid", message: "--secret \(name)=… must be file:PATH or env:VARIABLE")
  }

  public var description: String {
    switch self {
    case .file(let path): "file:\(path)"
    case .environment(let name): "env:\(name)"
    }
  }
}

/// The static secrets this pod may inject, by name. Values are never logged or described.
public final class SecretStore: Sendable {
  public static let maximumValueBytes = 64 << 10

  private let values = Mutex<[String: String]>([:])

  public init() {}

  public func value(named name: String) -> String? { values.withLock { $0[name] } }

  public var names: [String] { values.withLock { $0.keys.sorted() } }

  public func replaceAll(_ new: [String: String]) { values.withLock { $0 = new } }

  /// Reads every configured secret; one that cannot be read stops the start with its name and
  /// source (never its value). A file's trailing newline is not part of the secret.
  public static func read(_ sources: [String: SecretSource]) throws(ConfigurationError) -> [String: String] {
    var values: [String: String] = [:]
    for (name, source) in sources {
      let value: String?
      switch source {
      case .file(let path):
        value = FileManager.default.contents(atPath: path).flatMap { data in
          data.count <= maximumValueBytes + 2 ? String(data: data, encoding: .utf8) : nil
        }.map { text in
          var text = text
          if text.hasSuffix("\n") { text.removeLast() }
          if text.hasSuffix("\r") { text.removeLast() }
          return text
        }
      case .environment(let variable):
        value = ProcessInfo.processInfo.environment[variable]
      }
      guard let value, !value.isEmpty, value.utf8.count <= maximumValueBytes else {
        throw ConfigurationError(
          code: "secret_unreadable",
          message: "secret \(name) cannot be read from \(source) (missing, empty, not UTF-8 or over 64 KiB)")
      }
      values[name] = value
    }
    return values
  }
}
