import Foundation
import RemitEngine

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// The last good snapshot on disk (`STATE_DIR/snapshot.json`), so an authorizer restarted while
/// the control plane is down starts from what it last enforced instead of denying everything.
public struct SnapshotCache: Sendable {
  public let path: String

  public init(stateDirectory: String) {
    path = (stateDirectory as NSString).appendingPathComponent("snapshot.json")
  }

  /// The cached document, compiled, and the version it carries; nil when there is none or it no
  /// longer validates (a newer file format, a hand edit): then the authorizer waits for the
  /// control plane.
  public func load() throws -> (snapshot: PolicySnapshot, bytes: [UInt8]) {
    let bytes = try PolicyFileSource.readFile(path)
    do {
      return (try PolicySnapshot(bytes: bytes, format: .json), bytes)
    } catch {
      throw ConfigurationError(
        code: "snapshot_cache_invalid", message: "\(path) does not validate: \(error.description)")
    }
  }

  /// Writes the document atomically (a temporary file renamed over the old one), owner-only.
  public func save(_ bytes: [UInt8]) throws {
    let directory = (path as NSString).deletingLastPathComponent
    try FileManager.default.createDirectory(
      atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    let temporary = path + ".tmp.\(getpid())"
    guard
      FileManager.default.createFile(atPath: temporary, contents: Data(bytes), attributes: [.posixPermissions: 0o600])
    else {
      throw ConfigurationError(code: "snapshot_cache_unwritable", message: "cannot write \(temporary)")
    }
    guard rename(temporary, path) == 0 else {
      let reason = String(cString: strerror(errno))
      unlink(temporary)
      throw ConfigurationError(code: "snapshot_cache_unwritable", message: "cannot replace \(path): \(reason)")
    }
  }
}
