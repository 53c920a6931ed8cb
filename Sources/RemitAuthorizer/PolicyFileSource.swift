import Foundation
import Logging
import RemitEngine
import ServiceLifecycle

/// Loads the policy file and follows it: every change that validates becomes the new snapshot;
/// a change that does not is logged and the last good snapshot stays.
public struct PolicyFileSource: Service {
  public let path: String
  public let store: SnapshotStore
  public let pollInterval: Duration
  let logger: Logger
  /// The bytes the current snapshot was compiled from, so an edit made between the initial load
  /// and the first poll is still seen as a change.
  let loadedBytes: [UInt8]?

  public init(path: String, store: SnapshotStore, pollInterval: Duration, logger: Logger, loadedBytes: [UInt8]? = nil) {
    self.path = path
    self.store = store
    self.pollInterval = pollInterval
    self.logger = logger
    self.loadedBytes = loadedBytes
  }

  /// Reads and compiles the file once. Used at start, where an invalid file is fatal.
  public static func load(path: String) throws -> (PolicySnapshot, [UInt8]) {
    let bytes = try readFile(path)
    let format = PolicyDocument.Format.detect(fileName: path, bytes: bytes)
    return (try PolicySnapshot(bytes: bytes, format: format), bytes)
  }

  static func readFile(_ path: String) throws -> [UInt8] {
    guard let handle = FileHandle(forReadingAtPath: path) else {
      throw ConfigurationError(code: "policy_file_unreadable", message: "cannot open policy file \(path)")
    }
    defer { try? handle.close() }
    // Read one byte past the limit to tell "at the limit" from "over it".
    let data = try handle.read(upToCount: PolicyDocument.maximumDocumentBytes + 1) ?? Data()
    guard data.count <= PolicyDocument.maximumDocumentBytes else {
      throw ConfigurationError(
        code: "policy_file_too_large", message: "\(path) is larger than \(PolicyDocument.maximumDocumentBytes) bytes")
    }
    return Array(data)
  }

  /// Polls the file; compares contents, so ConfigMap symlink swaps and editors that replace the
  /// file are both seen.
  public func run() async throws {
    var lastBytes = loadedBytes
    if store.current == nil || lastBytes == nil {
      try await loadInitial(&lastBytes)
    }
    while !Task.isCancelledOrShuttingDown {
      try? await Task.sleep(for: pollInterval)
      if Task.isCancelledOrShuttingDown { break }
      guard let bytes = try? Self.readFile(path) else {
        logger.warning("policy file unreadable; keeping the last good snapshot", metadata: ["path": "\(path)"])
        continue
      }
      guard bytes != lastBytes else { continue }
      lastBytes = bytes
      apply(bytes)
      StartupMemory.releaseAgainIfArmed()  // the compile's temporaries are gone only now
    }
  }

  private func loadInitial(_ lastBytes: inout [UInt8]?) async throws {
    let (snapshot, bytes) = try Self.load(path: path)
    lastBytes = bytes
    store.replace(with: snapshot)
    logger.info(
      "policy loaded",
      metadata: ["path": "\(path)", "policy_version": "\(snapshot.version)", "agents": "\(snapshot.agentCount)"]
    )
  }

  func apply(_ bytes: [UInt8]) {
    do {
      let snapshot = try PolicySnapshot(bytes: bytes, format: .detect(fileName: path, bytes: bytes))
      store.replace(with: snapshot)
      logger.info(
        "policy reloaded",
        metadata: ["path": "\(path)", "policy_version": "\(snapshot.version)", "agents": "\(snapshot.agentCount)"]
      )
    } catch {
      logger.error(
        "policy file rejected; keeping the last good snapshot",
        metadata: [
          "path": "\(path)", "error_code": "\(error.code)",
          "errors": .array(error.issues.prefix(20).map { .string($0.description) }),
        ]
      )
    }
  }
}

extension Task where Success == Never, Failure == Never {
  static var isCancelledOrShuttingDown: Bool {
    Task.isCancelled || Task.isShuttingDownGracefully
  }
}
