import Logging
import NIOCore
@preconcurrency import PostgresKit
import Synchronization

/// PostgreSQL through a connection pool. Transactions hold one pooled connection; writers of one
/// tenant serialize on the tenant's `policy_versions` row, which every write updates first.
/// `@unchecked`: AsyncKit's pool predates Sendable annotations but is synchronized internally
/// (its per-loop pools are confined to their event loops); the other stored properties are immutable.
public final class PostgresControlPlaneDatabase: ControlPlaneDatabase, @unchecked Sendable {
  private let pool: EventLoopGroupConnectionPool<PostgresConnectionSource>
  private let database: any SQLDatabase
  private let logger: Logger
  /// The longest one transaction may hold its connection. Past it the connection is closed, which
  /// fails the statement in flight: when PostgreSQL restarts mid-query a statement can wait on a
  /// dead connection for ever, and with every pooled connection stuck so the control plane would
  /// stop answering until it was restarted (scripts/test-postgres-restart.py).
  let operationTimeout: Duration

  /// `url`: `postgres://user:password@host:port/database` (add `?sslmode=disable` for a local server).
  public init(
    url: String, logger: Logger, maximumConnectionsPerEventLoop: Int = 2, operationTimeout: Duration = .seconds(10)
  ) throws {
    let configuration = try SQLPostgresConfiguration(url: url)
    pool = EventLoopGroupConnectionPool(
      source: PostgresConnectionSource(sqlConfiguration: configuration),
      maxConnectionsPerEventLoop: maximumConnectionsPerEventLoop,
      requestTimeout: .seconds(5),
      logger: logger,
      on: MultiThreadedEventLoopGroup.singleton
    )
    database = pool.database(logger: logger).sql(queryLogLevel: .trace)
    self.logger = logger
    self.operationTimeout = operationTimeout
  }

  public func transaction<Result: Sendable>(
    _ body: @escaping @Sendable (any SQLDatabase) async throws -> Result
  ) async throws -> Result {
    try await withBoundedConnection { session in try await session.inTransaction(body) }
  }

  /// A read-only REPEATABLE READ transaction: the several queries that assemble a document all
  /// see one committed state, never a mix of two versions.
  public func read<Result: Sendable>(
    _ body: @escaping @Sendable (any SQLDatabase) async throws -> Result
  ) async throws -> Result {
    try await withBoundedConnection { session in
      try await session.inTransaction(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", body)
    }
  }

  /// Outside any transaction, for statements PostgreSQL refuses in one (CREATE DATABASE).
  public func withoutTransaction<Result: Sendable>(
    _ body: @escaping @Sendable (any SQLDatabase) async throws -> Result
  ) async throws -> Result {
    try await withBoundedConnection(body)
  }

  public func close() async throws {
    let pool = pool
    // As for SQLite: shut the pool down even when the caller's task is cancelled.
    try await Task { try await pool.shutdownAsync() }.value
  }

  /// Runs `body` on one pooled connection for at most `operationTimeout`, then closes the
  /// connection (the pool replaces it). A database that is away is `DatabaseUnavailableError`.
  private func withBoundedConnection<Result: Sendable>(
    _ body: @escaping @Sendable (any SQLDatabase) async throws -> Result
  ) async throws -> Result {
    let timeout = operationTimeout
    let logger = logger
    do {
      return try await pool.withConnection(logger: logger) { connection in
        connection.eventLoop.makeFutureWithTask {
          try await Self.race(body, on: connection, timeout: timeout, logger: logger)
        }
      }.get()
    } catch let error as ConnectionPoolTimeoutError {
      throw DatabaseUnavailableError(reason: "no database connection became free in time (\(error))")
    } catch let error as PSQLError where Self.meansUnavailable(error) {
      throw DatabaseUnavailableError(reason: "the database is not reachable (\(error.code))")
    }
  }

  /// The body's answer, or `DatabaseUnavailableError` after `timeout`, whichever comes first. Not
  /// a task group: a statement caught by a server restart can hang for ever even once its
  /// connection is closed (PostgresNIO loses its promise), and a group would wait for it. The
  /// connection is closed on timeout, so the pool discards it when it comes back; the stuck
  /// statement's task is left to end with the process.
  static func race<Result: Sendable>(
    _ body: @escaping @Sendable (any SQLDatabase) async throws -> Result, on connection: PostgresConnection,
    timeout: Duration, logger: Logger
  ) async throws -> Result {
    let outcome = ResumeOnce<Result>()
    return try await withCheckedThrowingContinuation { continuation in
      outcome.continuation.withLock { $0 = continuation }
      let work = Task {
        let result: Swift.Result<Result, any Error>
        do { result = .success(try await body(connection.sql(queryLogLevel: .trace))) } catch {
          result = .failure(error)
        }
        outcome.continuation.withLock { $0.take() }?.resume(with: result)
      }
      Task {
        try? await Task.sleep(for: timeout)
        guard let continuation = outcome.continuation.withLock({ $0.take() }) else { return }
        logger.error(
          "database operation exceeded its time; closing its connection", metadata: ["timeout": "\(timeout)"])
        // Started, not awaited (closing may wait on the stuck statement); it is closed before the
        // continuation releases it to the pool, which then discards it.
        let closing: EventLoopFuture<Void> = connection.close()
        _ = closing
        work.cancel()
        continuation.resume(
          throwing: DatabaseUnavailableError(reason: "a database operation took longer than \(timeout)"))
      }
    }
  }

  /// Connection failures, and the server's own "shutting down" / "starting up" refusals (SQLSTATE
  /// class 08, 57P01-57P03): the database is away, not the request wrong.
  static func meansUnavailable(_ error: PSQLError) -> Bool {
    switch error.code {
    case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed:
      return true
    case .server:
      let state = error.serverInfo?[.sqlState] ?? ""
      return state.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(state)
    default:
      return false
    }
  }
}

/// A continuation resumed by whichever of two tasks finishes first.
private final class ResumeOnce<Value: Sendable>: Sendable {
  let continuation = Mutex<CheckedContinuation<Value, any Error>?>(nil)
}

/// The database could not be reached or did not answer in time; the API answers 503.
struct DatabaseUnavailableError: Error, CustomStringConvertible {
  var reason: String
  var description: String { reason }
}
