import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Batches of decision events kept on disk while the control plane cannot be reached
/// (`STATE_DIR/audit-spool/SEQUENCE-COUNT.json`, one JSON array of COUNT events per file), sent oldest first
/// when it returns. Bounded in bytes; a batch that does not fit, or cannot be written (disk full),
/// is refused and the caller counts it as dropped. Owned by one task, the shipper.
struct AuditSpool {
  let directory: String
  let capacityBytes: Int
  private(set) var totalBytes = 0
  /// Spooled files in order, with their sizes.
  private(set) var files: [(name: String, bytes: Int, events: Int)] = []
  private var nextSequence: UInt64 = 0

  /// Opens the spool, picking up files a previous run left behind. A missing directory is created.
  init(directory: String, capacityBytes: Int) {
    self.directory = directory
    self.capacityBytes = capacityBytes
    try? FileManager.default.createDirectory(
      atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    for name in names.sorted() {
      let parts = name.dropLast(".json".count).split(separator: "-")
      guard name.hasSuffix(".json"), parts.count == 2, let sequence = UInt64(parts[0]), let events = Int(parts[1])
      else {
        // A temporary file from a crash mid-write: never sent, removed.
        if name.hasSuffix(".tmp") { unlink(path(name)) }
        continue
      }
      let attributes = try? FileManager.default.attributesOfItem(atPath: path(name))
      let size = (attributes?[.size] as? NSNumber)?.intValue ?? 0
      files.append((name, size, events))
      totalBytes += size
      nextSequence = max(nextSequence, sequence + 1)
    }
  }

  var isEmpty: Bool { files.isEmpty }

  /// Writes one batch; false when it would exceed the bound or the write fails.
  mutating func append(_ batch: [UInt8], events: Int) -> Bool {
    guard totalBytes + batch.count <= capacityBytes else { return false }
    let name = String(format: "%020llu-%d.json", nextSequence, events)
    let temporary = path(name + ".tmp")
    // Written whole under a temporary name, then renamed: a crash never leaves half a batch.
    let written = FileManager.default.createFile(
      atPath: temporary, contents: Data(batch), attributes: [.posixPermissions: 0o600])
    guard written, rename(temporary, path(name)) == 0 else {
      unlink(temporary)
      return false
    }
    nextSequence += 1
    files.append((name, batch.count, events))
    totalBytes += batch.count
    return true
  }

  /// The oldest batch; `batch` is nil when its file can no longer be read (then it is removed
  /// and its events count as lost).
  mutating func oldest() -> (name: String, events: Int, batch: [UInt8]?)? {
    guard let first = files.first else { return nil }
    guard let data = FileManager.default.contents(atPath: path(first.name)) else {
      remove(first.name)
      return (first.name, first.events, nil)
    }
    return (first.name, first.events, Array(data))
  }

  mutating func remove(_ name: String) {
    unlink(path(name))
    if let index = files.firstIndex(where: { $0.name == name }) {
      totalBytes -= files[index].bytes
      files.remove(at: index)
    }
  }

  private func path(_ name: String) -> String { directory + "/" + name }
}
