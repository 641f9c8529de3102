import ChorusTestSupport
import Glibc
import Logging
import PostgresNIO
import ServiceLifecycle
import Testing

@testable import ChorusPostgres

/// ChorusPostgres against a real PostgreSQL (``PostgresTestServer``): migrations from several
/// nodes at once, refusals, the pool's size, readiness through an outage.
@Suite(.serialized) struct PostgresServiceTests {
    static let logger = Logger(label: "test.postgres")

    /// The shipped migrations and one that takes a while, so concurrent migrators overlap.
    static let slowList = Migration.all + [
        Migration(version: Migration.all.count + 1, name: "slow", statements: ["SELECT pg_sleep(0.3)", "CREATE TABLE slow (x int)"]),
    ]

    /// Runs `service` while `body` runs; `body` starts once the service is ready.
    static func whileRunning<Result>(_ service: PostgresService, _ body: () async throws -> Result) async throws -> Result {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            try await Self.waitUntilReady(service)
            let result = try await body()
            group.cancelAll()
            return result
        }
    }

    /// Runs `body` for each of `count` cases (the index), each on a fresh database of its own
    /// (`<prefix><index>`, migrated) with two nodes running on it: a contract's two stores.
    static func eachOnTwoNodes(
        _ count: Int, database prefix: String, _ body: (Int, PostgresService, PostgresService) async throws -> Void
    ) async throws {
        try await PostgresTestServer.with { server in
            for index in 0..<count {
                let url = try await server.createDatabase("\(prefix)\(index)")
                let node = try Self.service(url)
                let second = try Self.service(url)
                try await Self.whileRunning(node) {
                    try await Self.whileRunning(second) { try await body(index, node, second) }
                }
            }
        }
    }

    /// Waits (at most 30 s) for `service` to report ready.
    static func waitUntilReady(_ service: PostgresService) async throws {
        var lastError: (any Error)?
        for _ in 0..<300 {
            do {
                try await service.checkReady()
                return
            } catch {
                lastError = error
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        throw lastError ?? PostgresUnavailable("not ready")
    }

    static func service(_ url: String, poolSize: Int = 10, migrations: [Migration] = Migration.all) throws -> PostgresService {
        var configuration = try PostgresConfiguration(url: url)
        configuration.poolSize = poolSize
        return PostgresService(configuration: configuration, migrations: migrations, logger: Self.logger)
    }

    @Test func threeConcurrentMigratorsApplyEachMigrationOnce() async throws {
        try await PostgresTestServer.with { server in
            let url = try await server.createDatabase("concurrent")
            let services = try (0..<3).map { _ in try Self.service(url) }
            let applied = try await withThrowingTaskGroup(of: Int.self) { group in
                for service in services {
                    group.addTask {
                        try await withThrowingTaskGroup(of: Int.self) { running in
                            running.addTask { await service.client.run(); return 0 }
                            let applied = try await Migrator(migrations: Self.slowList, logger: Self.logger).apply(on: service.client)
                            running.cancelAll()
                            return applied.count
                        }
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(applied == Self.slowList.count)
            #expect(try await server.psql("SELECT string_agg(version || ':' || name, ',' ORDER BY version) FROM chorus_migrations", database: "concurrent") == Self.slowList.map { "\($0.version):\($0.name)" }.joined(separator: ","))
            #expect(try await server.psql("SELECT count(*) FROM chorus_cluster", database: "concurrent") == "1")
        }
    }

    @Test func aSecondStartAppliesNothingAndKeepsTheCluster() async throws {
        try await PostgresTestServer.with { server in
            let url = try await server.createDatabase("rerun")
            let first = try Self.service(url)
            let cluster = try await Self.whileRunning(first) { try await first.cluster() }
            let appliedAt = try await server.psql("SELECT applied_at FROM chorus_migrations WHERE version = 1", database: "rerun")
            let second = try Self.service(url)
            let again = try await Self.whileRunning(second) {
                #expect(try await Migrator(migrations: Migration.all, logger: Self.logger).apply(on: second.client).isEmpty)
                return try await second.cluster()
            }
            #expect(again == cluster)
            #expect(try await server.psql("SELECT applied_at FROM chorus_migrations WHERE version = 1", database: "rerun") == appliedAt)
        }
    }

    @Test func aChangedOrUnknownMigrationStopsStartUp() async throws {
        try await PostgresTestServer.with { server in
            let url = try await server.createDatabase("refusals")
            try await Self.whileRunning(try Self.service(url, migrations: Self.slowList)) {}
            // This binary's last migration is not the applied one.
            let slow = Migration.all.count + 1
            var edited = Self.slowList
            edited[slow - 1] = Migration(version: slow, name: "slow", statements: ["CREATE TABLE slow (y int)"])
            await #expect {
                try await Self.service(url, migrations: edited).run()
            } throws: { error in
                "\(error)".contains("migration \(slow) ('slow') in the database differs")
            }
            // An older binary does not know the last migration.
            await #expect {
                try await Self.service(url, migrations: Migration.all).run()
            } throws: { error in
                "\(error)".contains("a newer chorus migrated it")
            }
            #expect(try await server.psql("SELECT count(*) FROM chorus_migrations", database: "refusals") == String(slow))
        }
    }

    @Test func thePoolOpensNoMoreConnectionsThanItsSize() async throws {
        try await PostgresTestServer.with { server in
            let url = try await server.createDatabase("pool")
            let service = try Self.service(url, poolSize: 3)
            try await Self.whileRunning(service) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<12 {
                        group.addTask { _ = try await service.client.query("SELECT pg_sleep(0.2)").collect() }
                    }
                    try await group.waitForAll()
                }
                // Connections stay open (idle) after the burst: exactly the pool's size.
                let count = try await server.psql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'pool' AND application_name = 'chorus'")
                #expect(count == "3")
            }
        }
    }

    @Test func readinessFailsWhileTheServerIsStoppedAndRecoversByItself() async throws {
        try await PostgresTestServer.with { server in
            let url = try await server.createDatabase("outage")
            let service = try Self.service(url)
            try await Self.whileRunning(service) {
                try await server.stop()
                await #expect {
                    try await service.checkReady()
                } throws: { error in
                    "\(error)".contains("cannot reach PostgreSQL at postgres://postgres@127.0.0.1:\(server.port)/outage")
                }
                try await server.start()
                try await Self.waitUntilReady(service)
                #expect(try await service.cluster().id.count == 36)
            }
        }
    }

    @Test func anUnreachableServerStopsStartUpWithTheReason() async throws {
        let port = try await PostgresTestServer.with { server in server.port }
        await #expect {
            try await Self.service("postgres://postgres@127.0.0.1:\(port)/none?sslmode=disable").run()
        } throws: { error in
            let message = "\(error)"
            return message.contains("cannot reach PostgreSQL at postgres://postgres@127.0.0.1:\(port)/none") && message.contains("refused")
        }
    }

    /// A server that accepts connections and never answers: start-up waits for it until the
    /// connect timeout, unless the group shuts down first, which is then no failure.
    @Test func aGracefulShutdownDuringStartUpIsNoFailure() async throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 8) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        try #require(listening)
        var configuration = try PostgresConfiguration(url: "postgres://u@127.0.0.1:\(UInt16(bigEndian: address.sin_port))/d?sslmode=disable")
        configuration.connectTimeout = .seconds(60)
        let service = PostgresService(configuration: configuration, logger: Self.logger)
        let group = ServiceGroup(configuration: .init(services: [service], logger: Self.logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // Once the probe's connection waits in the listen queue, it is start-up under way.
            let connecting = try await offCooperativePool {
                var pending = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                return poll(&pending, 1, 30_000) == 1
            }
            #expect(connecting)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        await #expect(throws: PostgresUnavailable.self) { try await service.checkReady() }
    }
}
