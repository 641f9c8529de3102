import Logging
import PostgresNIO

/// Applies pending migrations in one transaction under a PostgreSQL advisory lock: when several
/// nodes start at once, one applies them and the others wait for the lock, then find them
/// applied and apply nothing.
struct Migrator {
    /// The transaction-level advisory lock key every Chorus node takes to migrate ("chorus" in ASCII).
    static let lockKey: Int64 = 0x63_68_6F_72_75_73

    let migrations: [Migration]
    let logger: Logger

    /// - Returns: the migrations this call applied (none when the schema was up to date).
    @discardableResult
    func apply(on client: PostgresClient) async throws -> [Migration] {
        try await client.withConnection { connection in
            try await Self.inTransaction(connection, logger: self.logger) {
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.lockKey))", logger: self.logger)
                try await connection.query(
                    """
                    CREATE TABLE IF NOT EXISTS chorus_migrations (
                        version integer PRIMARY KEY,
                        name text NOT NULL,
                        checksum text NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now()
                    )
                    """,
                    logger: self.logger
                )
                var applied: [AppliedMigration] = []
                let rows = try await connection.query("SELECT version, name, checksum FROM chorus_migrations", logger: self.logger)
                for try await (version, name, checksum) in rows.decode((Int, String, String).self) {
                    applied.append(AppliedMigration(version: version, name: name, checksum: checksum))
                }
                let pending = try MigrationPlan.pending(known: self.migrations, applied: applied)
                for migration in pending {
                    for statement in migration.statements {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: self.logger)
                    }
                    try await connection.query(
                        "INSERT INTO chorus_migrations (version, name, checksum) VALUES (\(migration.version), \(migration.name), \(migration.checksum))",
                        logger: self.logger
                    )
                    self.logger.info("applied PostgreSQL migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
                }
                return pending
            }
        }
    }

    /// BEGIN, body, COMMIT; ROLLBACK when the body fails, rethrowing its own error (unwrapped,
    /// so a `MigrationError` reaches the operator as it is).
    private static func inTransaction<Result: Sendable>(
        _ connection: PostgresConnection,
        logger: Logger,
        _ body: () async throws -> Result
    ) async throws -> Result {
        try await connection.query("BEGIN", logger: logger)
        do {
            let result = try await body()
            try await connection.query("COMMIT", logger: logger)
            return result
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
    }
}
