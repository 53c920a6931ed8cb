import Logging
import SQLKit
import SQLiteKit

/// The store's one seam to a SQL engine. Every query goes through SQLKit's `SQLDatabase`, so SQLite
/// and PostgreSQL share the store's code; an engine only decides how a session is held.
public protocol ControlPlaneDatabase: Sendable {
  /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
  func transaction<Result: Sendable>(
    _ body: @escaping @Sendable (any SQLDatabase) async throws -> Result
  ) async throws -> Result

  /// Runs `body` with a database for reads that see one committed state throughout (a document
  /// is assembled from several queries and must never mix two versions).
  func read<Result: Sendable>(
    _ body: @escaping @Sendable (any SQLDatabase) async throws -> Result
  ) async throws -> Result

  func close() async throws
}

/// SQLite through one connection. Access is serialized by a gate, so a transaction never sees
/// another request's half-done writes and readers never see uncommitted rows; SQLite allows one
/// writer at a time anyway.
public final class SQLiteControlPlaneDatabase: ControlPlaneDatabase {
  private let connection: SQLiteConnection
  private let database: any SQLDatabase
  private let gate = AsyncGate()

  /// `path` nil means an in-memory database that lives as long as this object.
  public init(path: String?, logger: Logger) async throws {
    connection = try await SQLiteConnection.open(
      storage: path.map { .file(path: $0) } ?? .memory,
      logger: logger
    )
    database = connection.sql(queryLogLevel: .trace)
    _ = try await connection.query("PRAGMA foreign_keys = ON")
    if path != nil {
      _ = try await connection.query("PRAGMA journal_mode = WAL")
    }
  }

  public func transaction<Result: Sendable>(
    _ body: @escaping @Sendable (any SQLDatabase) async throws -> Result
  ) async throws -> Result {
    let database = database
    return try await gate.withExclusiveAccess { try await database.inTransaction(body) }
  }

  public func read<Result: Sendable>(
    _ body: @escaping @Sendable (any SQLDatabase) async throws -> Result
  ) async throws -> Result {
    let database = database
    return try await gate.withExclusiveAccess { try await body(database) }
  }

  public func close() async throws {
    let connection = connection
    // Closing must happen even when the caller's task is cancelled (shutdown), or SQLiteNIO
    // refuses the work and the connection leaks; an unstructured task does not inherit that.
    try await Task { try await connection.close() }.value
  }
}

/// A first-in, first-out async lock.
actor AsyncGate {
  private var isHeld = false
  private var waiters: [CheckedContinuation<Void, Never>] = []

  func withExclusiveAccess<Result: Sendable>(
    _ body: @Sendable () async throws -> Result
  ) async throws -> Result {
    await acquire()
    defer { release() }
    return try await body()
  }

  private func acquire() async {
    if !isHeld {
      isHeld = true
      return
    }
    await withCheckedContinuation { waiters.append($0) }
  }

  private func release() {
    if waiters.isEmpty {
      isHeld = false
    } else {
      // Ownership passes straight to the next waiter; isHeld stays true.
      waiters.removeFirst().resume()
    }
  }
}

extension SQLDatabase {
  /// Runs `body` between `begin` and COMMIT, rolling back when it throws. SQLKit has sessions but
  /// no transaction helper; both engines use this one.
  func inTransaction<Result: Sendable>(
    begin: String = "BEGIN",
    _ body: @escaping @Sendable (any SQLDatabase) async throws -> Result
  ) async throws -> Result {
    try await raw(SQLQueryString(begin)).run()
    do {
      let result = try await body(self)
      try await raw("COMMIT").run()
      return result
    } catch {
      try? await raw("ROLLBACK").run()
      throw error
    }
  }
}
