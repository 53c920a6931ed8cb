import Logging
import NIOCore
@preconcurrency import PostgresKit

/// PostgreSQL through a connection pool. Transactions hold one pooled connection; writers of one
/// tenant serialize on the tenant's `policy_versions` row, which every write updates first.
/// `@unchecked`: AsyncKit's pool predates Sendable annotations but is synchronized internally
/// (its per-loop pools are confined to their event loops); the other stored properties are immutable.
public final class PostgresControlPlaneDatabase: ControlPlaneDatabase, @unchecked Sendable {
  private let pool: EventLoopGroupConnectionPool<PostgresConnectionSource>
  private let database: any SQLDatabase

  /// `url`: `postgres://user:password@host:port/database` (add `?sslmode=disable` for a local server).
  public init(url: String, logger: Logger, maximumConnectionsPerEventLoop: Int = 2) throws {
    let configuration = try SQLPostgresConfiguration(url: url)
    pool = EventLoopGroupConnectionPool(
      source: PostgresConnectionSource(sqlConfiguration: configuration),
      maxConnectionsPerEventLoop: maximumConnectionsPerEventLoop,
      logger: logger,
      on: MultiThreadedEventLoopGroup.singleton
    )
    database = pool.database(logger: logger).sql(queryLogLevel: .trace)
  }

  public func transaction<Result: Sendable>(
    _ body: @escaping @Sendable (any SQLDatabase) async throws -> Result
  ) async throws -> Result {
    try await database.withSession { session in try await session.inTransaction(body) }
  }

  /// A read-only REPEATABLE READ transaction: the several queries that assemble a document all
  /// see one committed state, never a mix of two versions.
  public func read<Result: Sendable>(
    _ body: @escaping @Sendable (any SQLDatabase) async throws -> Result
  ) async throws -> Result {
    try await database.withSession { session in
      try await session.inTransaction(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", body)
    }
  }

  /// Outside any transaction, for statements PostgreSQL refuses in one (CREATE DATABASE).
  public func withoutTransaction<Result: Sendable>(
    _ body: @escaping @Sendable (any SQLDatabase) async throws -> Result
  ) async throws -> Result {
    try await body(database)
  }

  public func close() async throws {
    let pool = pool
    // As for SQLite: shut the pool down even when the caller's task is cancelled.
    try await Task { try await pool.shutdownAsync() }.value
  }
}
