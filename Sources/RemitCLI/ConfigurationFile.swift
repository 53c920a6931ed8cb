import ArgumentParser
import Foundation
import Synchronization
import Yams

/// `--config FILE` (or REMIT_CONFIG): a YAML file of settings, the third source after flags and
/// environment variables. Its keys are the environment variables' names without `REMIT_`, in
/// lower case with `-` for `_`, so one name scheme covers all three:
///
///     # remit.yaml
///     listen: 0.0.0.0:9191          # REMIT_LISTEN, --listen
///     tls-cert: /etc/remit/tls.crt  # REMIT_TLS_CERT, --tls-cert
///     state-dir: /var/lib/remit     # REMIT_STATE_DIR, --state-dir
///
/// A flag beats the environment, which beats the file. An unknown key is an error (a typo must
/// not silently fall back to a default).
enum ConfigurationFile {
  /// Every setting a file may hold: the REMIT_* variables the commands read.
  static let knownVariables: Set<String> = [
    "REMIT_ADMIN_LISTEN", "REMIT_API_KEY", "REMIT_API_KEY_FILE", "REMIT_BOOTSTRAP_ADMIN_KEY", "REMIT_CONTROL_PLANE",
    "REMIT_CONTROL_PLANE_LISTEN", "REMIT_DASHBOARD_SECURE_COOKIES", "REMIT_DASHBOARD_SIGN_IN_FAILURES",
    "REMIT_DASHBOARD_SIGN_IN_WINDOW", "REMIT_DATABASE", "REMIT_DEV_DIR",
    "REMIT_DRAIN_DELAY",
    "REMIT_INSTANCE_ID", "REMIT_LEDGER_TIMEOUT_MS", "REMIT_LISTEN", "REMIT_LOG_LEVEL", "REMIT_POLICY", "REMIT_SECRETS",
    "REMIT_SECRETS_KEY_FILE",
    "REMIT_STATE_DIR", "REMIT_TLS_CERT", "REMIT_TLS_CLIENT_CA", "REMIT_TLS_CLIENT_SANS", "REMIT_TLS_KEY",
    "REMIT_TLS_REQUIRE_CLIENT_CERT",
  ]

  /// The loaded settings, by variable name. Set once, before a command reads its settings.
  private static let values = Mutex<[String: String]>([:])

  static func value(for variable: String) -> String? { values.withLock { $0[variable] } }

  static func key(for variable: String) -> String {
    String(variable.dropFirst("REMIT_".count)).lowercased().replacingOccurrences(of: "_", with: "-")
  }

  /// Loads `--config` or REMIT_CONFIG when given; a missing or invalid file is a usage error.
  static func load(_ path: String?) throws {
    guard let path = path ?? environmentValue("REMIT_CONFIG") else { return }
    guard let data = FileManager.default.contents(atPath: path), data.count <= 1 << 20 else {
      throw ValidationError("cannot read the configuration file \(path) (at most 1 MiB)")
    }
    values.withLock { $0 = [:] }
    let parsed = try parse(String(decoding: data, as: UTF8.self), path: path)
    values.withLock { $0 = parsed }
  }

  static func parse(_ text: String, path: String) throws -> [String: String] {
    let node: Any?
    do {
      node = try Yams.load(yaml: text)
    } catch {
      throw ValidationError("\(path) is not YAML: \(error)")
    }
    guard let node else { return [:] }
    guard let mapping = node as? [String: Any] else {
      throw ValidationError("\(path) must be a mapping of settings, e.g. `listen: 0.0.0.0:9191`")
    }
    let byKey = Dictionary(uniqueKeysWithValues: knownVariables.map { (key(for: $0), $0) })
    var result: [String: String] = [:]
    for (key, value) in mapping {
      guard let variable = byKey[key] else {
        throw ValidationError(
          "\(path): unknown setting \(key.prefix(64)); known: \(byKey.keys.sorted().joined(separator: ", "))")
      }
      switch value {
      case let text as String: result[variable] = text
      case let flag as Bool: result[variable] = flag ? "true" : "false"
      case let number as Int: result[variable] = String(number)
      default: throw ValidationError("\(path): \(key) must be a string, a number or true/false")
      }
    }
    return result
  }

  static func environmentValue(_ variable: String) -> String? {
    guard let environment = getenv(variable) else { return nil }
    let text = String(cString: environment)
    return text.isEmpty ? nil : text
  }
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif
