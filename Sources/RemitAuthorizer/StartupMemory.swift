import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Hands back the code pages that starting up touched and serving does not need.
///
/// Starting touches much of the executable's machine code once (YAML and JSON parsing, policy
/// compilation, TLS and HTTP/2 setup), and the kernel maps neighbouring pages of the file with
/// each fault, so about 20 MiB of code stays resident that no request ever runs (measured with
/// /proc/self/pagemap on the release binary; BENCHMARKS.md, "Memory"). Dropping those page-table
/// entries with `MADV_DONTNEED` is safe only for mappings nobody ever wrote: they are re-read from
/// the page cache, byte for byte the file, when code runs again. So only executable, private,
/// file-backed mappings whose `Anonymous` count is 0 are touched; relocated data (RELRO) and
/// anything copied on write are never dropped.
public enum StartupMemory {
  private static let armed = Atomic<Bool>(false)

  /// Returns the heap the policy load freed (see `SnapshotStore.returnFreedMemory`; measured: a
  /// trim once serving releases 14 MiB more than the one at the swap on a 10,000-agent YAML
  /// policy), drops the code pages, and arms later calls to `releaseAgainIfArmed` (after a policy
  /// change, which runs compile code again). Returns the bytes of mapping the kernel was asked to drop.
  @discardableResult
  public static func release() -> Int {
    armed.store(true, ordering: .relaxed)
    SnapshotStore.returnFreedMemory()
    return dropCodePages()
  }

  /// After a policy change has been applied and its temporaries are gone.
  /// Caps glibc's malloc arenas (its default is 8 per core) unless `MALLOC_ARENA_MAX` says
  /// otherwise. Every thread that allocates under contention gets an arena that keeps what it
  /// freed; under load with 10,000 agents, 2 arenas peaked 5 MiB lower than the default with the
  /// same throughput (BENCHMARKS.md, "Memory"). Call before the server's threads start.
  public static func limitMallocArenas(to count: Int32 = 2) {
    #if canImport(Glibc)
      guard getenv("MALLOC_ARENA_MAX") == nil else { return }
      // mallopt is in malloc.h, outside the Glibc module map; M_ARENA_MAX is -8 there.
      typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
      if let symbol = dlsym(nil, "mallopt") { _ = unsafeBitCast(symbol, to: Mallopt.self)(-8, count) }
    #endif
  }

  static func releaseAgainIfArmed() {
    SnapshotStore.returnFreedMemory()
    if armed.load(ordering: .relaxed) { dropCodePages() }
  }

  /// One mapping of /proc/self/smaps that may be dropped.
  struct CodeMapping: Equatable {
    var start: UInt
    var end: UInt
  }

  @discardableResult
  static func dropCodePages() -> Int {
    #if os(Linux)
      guard let smaps = try? String(contentsOfFile: "/proc/self/smaps", encoding: .utf8) else { return 0 }
      var released = 0
      for mapping in codeMappings(smaps: smaps) {
        guard let address = UnsafeMutableRawPointer(bitPattern: mapping.start) else { continue }
        let length = Int(mapping.end - mapping.start)
        if madvise(address, length, MADV_DONTNEED) == 0 { released += length }
      }
      return released
    #else
      return 0
    #endif
  }

  /// The executable, private, file-backed mappings of an smaps listing that hold no anonymous
  /// (written) page. A mapping whose fields cannot be read is left alone.
  static func codeMappings(smaps: String) -> [CodeMapping] {
    var mappings: [CodeMapping] = []
    var candidate: CodeMapping?
    var anonymousSeen = false
    func finish() {
      if let candidate, anonymousSeen { mappings.append(candidate) }
      candidate = nil
      anonymousSeen = false
    }
    for line in smaps.split(separator: "\n", omittingEmptySubsequences: true) {
      let fields = line.split(separator: " ", omittingEmptySubsequences: true)
      guard let first = fields.first else { continue }
      if first.contains("-") && !first.hasSuffix(":") {
        finish()
        // start-end perms offset dev inode path
        guard fields.count >= 6, fields[1] == "r-xp", fields[4] != "0", fields[5].hasPrefix("/") else { continue }
        let bounds = first.split(separator: "-")
        guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16),
          end > start
        else { continue }
        candidate = CodeMapping(start: start, end: end)
      } else if first == "Anonymous:", candidate != nil {
        if fields.count >= 2, fields[1] == "0" {
          anonymousSeen = true
        } else {
          candidate = nil  // written: copy-on-write pages would be lost
        }
      }
    }
    finish()
    return mappings
  }
}
