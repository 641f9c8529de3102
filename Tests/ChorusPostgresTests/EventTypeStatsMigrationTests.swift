import ChorusCore
import ChorusTestSupport
import NIOCore
import Synchronization
import Testing

@testable import ChorusPostgres

/// Migration 6 (`event_type_stats`) on a log that already holds events, and its triggers under
/// writers that know nothing of it (a node of the older version during a rolling deploy).
@Suite struct EventTypeStatsMigrationTests {
    /// What `stats()` must say, aggregated from the log itself.
    static let aggregate = "SELECT string_agg(type || '=' || n || '/' || b, ',' ORDER BY type) FROM (SELECT type, count(*) AS n, sum(size) AS b FROM chorus_events GROUP BY type) AS t"

    static func listed(_ stats: EventLogStats) -> String {
        stats.types.keys.sorted().map { "\($0)=\(stats.types[$0]!.count)/\(stats.types[$0]!.bytes)" }.joined(separator: ",")
    }

    @Test func theLogAlreadyThereIsCountedAndWritersThatBypassTheStoreKeepItRight() async throws {
        try await PostgresTestServer.with { server in
            let url = try await server.createDatabase("typestats")
            let before = Array(Migration.all.prefix { $0.name != "event_type_stats" })
            #expect(before.count == Migration.all.count - 1)
            // The older version: its migrations, and its appends (which write no stats).
            let old = try PostgresServiceTests.service(url, migrations: before)
            try await PostgresServiceTests.whileRunning(old) {
                let store = PostgresEventStore(client: old.client)
                let events = (1...7).map { n in
                    Event(eventID: "e\(n)", type: n % 3 == 0 ? "order.paid" : "order.created", data: ByteBuffer(string: #"{"n":\#(n)}"#), timestamp: Int64(n) * 100)
                }
                _ = try await store.append(events, now: 1_000, idempotencyWindow: 3_600_000)
            }
            let new = try PostgresServiceTests.service(url)
            try await PostgresServiceTests.whileRunning(new) {
                let store = PostgresEventStore(client: new.client)
                let stats = try await store.stats()
                #expect(stats.count == 7 && stats.lastSequence == 7 && stats.oldestSequence == 1 && stats.newestTimestamp == 700)
                #expect(Self.listed(stats) == (try await server.psql(Self.aggregate, database: "typestats")))
                #expect(stats.types["order.paid"]?.count == 2 && stats.types["order.paid"]?.newestSequence == 6)
                // An older node's trim and append, in its own SQL: the triggers count them.
                try await server.psql("DELETE FROM chorus_events WHERE seq <= 3", database: "typestats")
                try await server.psql(
                    "INSERT INTO chorus_events (seq, event_id, type, data, ts, size) VALUES (8, 'e8', 'note.added', '\\x7b7d', 800, 30), (9, 'e9', 'note.added', '\\x7b7d', 900, 30)",
                    database: "typestats")
                let after = try await store.stats()
                #expect(after.count == 6 && after.oldestSequence == 4)
                #expect(Self.listed(after) == (try await server.psql(Self.aggregate, database: "typestats")))
                #expect(after.types["note.added"]?.newestTimestamp == 900)
                // A type with nothing left goes.
                try await server.psql("DELETE FROM chorus_events WHERE type = 'note.added'", database: "typestats")
                #expect(try await store.stats().types["note.added"] == nil)
            }
        }
    }

    /// Appends of mixed types (each append locks its types' rows in its events' order) beside
    /// retention passes (whose trigger locks the removed types' rows): neither fails, and the
    /// counts end as the log's.
    @Test func appendsAndRetentionPassesNeverDeadlock() async throws {
        try await PostgresTestServer.with { server in
            let url = try await server.createDatabase("typelocks")
            let service = try PostgresServiceTests.service(url)
            try await PostgresServiceTests.whileRunning(service) {
                let store = PostgresEventStore(client: service.client)
                let types = (0..<12).map { "t.\($0)" }
                let appending = Appending()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for appender in 0..<4 {
                        group.addTask {
                            defer { appending.finished() }
                            var random = SystemRandomNumberGenerator()
                            for round in 0..<15 {
                                let events = (0..<40).map { n in
                                    Event(eventID: "e\(appender)-\(round)-\(n)", type: types.randomElement(using: &random)!, data: ByteBuffer(string: "{}"), timestamp: Int64(round))
                                }
                                _ = try await store.append(events, now: 1_000, idempotencyWindow: 3_600_000)
                            }
                        }
                    }
                    // Passes one after another for as long as anything appends.
                    group.addTask {
                        while appending.running {
                            _ = try await store.trim(EventRetention(maxEvents: 200), now: 1_000)
                        }
                    }
                    try await group.waitForAll()
                }
                let stats = try await store.stats()
                #expect(stats.lastSequence == 4 * 15 * 40)
                #expect(Self.listed(stats) == (try await server.psql(Self.aggregate, database: "typelocks")))
                #expect(stats.count == Int(try await server.psql("SELECT count(*) FROM chorus_events", database: "typelocks")))
            }
        }
    }

    /// How many of the four appenders still run.
    final class Appending: Sendable {
        private let left = Atomic(4)
        var running: Bool { self.left.load(ordering: .acquiring) > 0 }
        func finished() { self.left.subtract(1, ordering: .releasing) }
    }
}
