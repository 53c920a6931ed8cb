import Atomics
import RemitEngine

#if canImport(Glibc)
  import Glibc
#endif

/// The current policy snapshot, swapped whole when a new version is applied. Readers load the
/// reference atomically, without a lock (swift-atomics' strong references are safe to load while
/// another thread swaps them), and then work on an immutable snapshot for the whole decision.
public final class SnapshotStore: Sendable {
  private let state: ManagedAtomic<PolicySnapshot?>

  public init(_ snapshot: PolicySnapshot? = nil) {
    state = ManagedAtomic(snapshot)
  }

  public var current: PolicySnapshot? {
    state.load(ordering: .acquiring)
  }

  public func replace(with snapshot: PolicySnapshot) {
    state.store(snapshot, ordering: .releasing)
    Self.returnFreedMemory()
  }

  /// Compiling a snapshot allocates and frees tens of megabytes for a large policy; glibc keeps
  /// freed memory in its arenas, so the process would stay at its compile-time peak. A policy
  /// change is rare, so handing it back costs nothing on the request path.
  static func returnFreedMemory() {
    #if canImport(Glibc)
      // malloc.h is not in the Glibc module map; RTLD_DEFAULT (nil) finds libc's symbol.
      typealias MallocTrim = @convention(c) (Int) -> Int32
      if let symbol = dlsym(nil, "malloc_trim") { _ = unsafeBitCast(symbol, to: MallocTrim.self)(0) }
    #endif
  }
}

extension PolicySnapshot: AtomicReference {}
