public import ChorusCore
public import Foundation
public import Logging
public import NIOCore
public import PostgresNIO
public import ServiceLifecycle
import Synchronization

/// The shared durable store's client: a connection pool sized by configuration, the schema
/// migrated at start, and a readiness check, as one `Service`.
///
/// In a `ServiceGroup`, run it before what needs it (the hub), so it stops after. ``run()``
/// first checks that the server answers and applies pending migrations (failing start-up with a
/// clear error otherwise), then serves the pool until graceful shutdown. Later outages do not
/// stop it: queries fail meanwhile, the pool reconnects when the server is back.
public final class PostgresService: Service, ReadinessCheck {
    /// Where the store is and the pool's size and timeouts.
    public let configuration: PostgresConfiguration
    /// The pool: stores built on PostgreSQL run their queries through it.
    public let client: PostgresClient
    /// Its key in `/ready`'s checks.
    public let name = "postgres"
    private let migrations: [Migration]
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let migrated = Atomic(false)

    /// A client for `configuration`; nothing connects before ``run()``.
    /// - Parameter migrations: the schema to migrate to (``Migration/all``; tests pass others).
    public init(
        configuration: PostgresConfiguration,
        migrations: [Migration] = Migration.all,
        eventLoopGroup: any EventLoopGroup = PostgresClient.defaultEventLoopGroup,
        logger: Logger = Logger(label: "chorus.postgres")
    ) {
        self.configuration = configuration
        self.migrations = migrations
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.client = PostgresClient(configuration: configuration.clientConfiguration, eventLoopGroup: eventLoopGroup, backgroundLogger: logger)
    }

    /// Checks the server answers, migrates, then runs the pool until graceful shutdown.
    /// A graceful shutdown during start-up stops the check and the migration (their
    /// transaction rolls back) and returns without an error.
    /// - Throws: ``PostgresUnavailable`` when the server cannot be reached or refuses at start,
    ///   or its migrations cannot be applied (``MigrationError``'s message).
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await self.client.run() }
            do {
                try await cancelWhenGracefulShutdown {
                    try await self.probe()
                    let applied = try await Migrator(migrations: self.migrations, logger: self.logger).apply(on: self.client)
                    self.migrated.store(true, ordering: .releasing)
                    self.logger.info(
                        "PostgreSQL ready",
                        metadata: ["server": "\(self.configuration.redactedURL)", "schema_version": "\(self.migrations.count)", "applied_now": "\(applied.count)"]
                    )
                }
            } catch {
                // Stopped before it was ready: nothing failed.
                guard !Task.isShuttingDownGracefully else { return }
                throw PostgresUnavailable(describing: error, server: self.configuration.redactedURL)
            }
        }
    }

    /// Opens one connection of its own (not from the pool) and runs `SELECT 1`, within
    /// `timeout` (the connect timeout by default): the pool waits and retries quietly, this says
    /// why it cannot connect.
    public func probe(within timeout: Duration? = nil) async throws {
        let configuration = try self.configuration.connectionConfiguration()
        let server = self.configuration.redactedURL
        let logger = self.logger
        let group = self.eventLoopGroup
        do {
            try await PostgresUnavailable.withTimeout(timeout ?? self.configuration.connectTimeout, "PostgreSQL at \(server)") {
                let connection = try await PostgresConnection.connect(on: group.next(), configuration: configuration, id: 0, logger: logger)
                do {
                    try await connection.query("SELECT 1", logger: logger)
                } catch {
                    try? await connection.close()
                    throw error
                }
                try await connection.close()
            }
        } catch {
            throw PostgresUnavailable(describing: error, server: server)
        }
    }

    /// Ready once migrated and while the pool answers `SELECT 1` within the health timeout;
    /// when it does not, the error says why (from a probe of its own, within the health timeout
    /// too, so `/ready` answers within twice that).
    public func checkReady() async throws {
        guard self.migrated.load(ordering: .acquiring) else {
            throw PostgresUnavailable("PostgreSQL at \(self.configuration.redactedURL): migrations not applied yet")
        }
        do {
            try await PostgresUnavailable.withTimeout(self.configuration.healthTimeout, "PostgreSQL at \(self.configuration.redactedURL)") {
                _ = try await self.client.query("SELECT 1").collect()
            }
        } catch {
            // The pool only says it is waiting: a connection of our own says why.
            try await self.probe(within: self.configuration.healthTimeout)
            let reason = PostgresUnavailable(describing: error, server: self.configuration.redactedURL)
            throw PostgresUnavailable("\(reason.message) (PostgreSQL answers again: the pool is reconnecting)")
        }
    }

    /// The cluster's identity, made by the first migration.
    public func cluster() async throws -> ClusterRecord {
        let rows = try await self.client.query("SELECT id, created_at FROM chorus_cluster")
        for try await (id, createdAt) in rows.decode((String, Date).self) {
            return ClusterRecord(id: id, createdAt: createdAt)
        }
        throw PostgresUnavailable("chorus_cluster has no row: the database was not migrated by chorus")
    }
}

/// The cluster's row in `chorus_cluster`.
public struct ClusterRecord: Sendable, Equatable {
    /// A UUID chosen when the first node migrated the database.
    public let id: String
    /// When that was.
    public let createdAt: Date
}

extension PostgresService: CustomStringConvertible {
    /// Its name: a `ServiceGroup` logs services by description, and the URL holds a password.
    public var description: String { "PostgresService" }
}
