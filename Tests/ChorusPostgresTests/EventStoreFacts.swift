import ChorusCore
import ChorusSQLite
import Foundation
import GRDB
import NIOCore
import Testing

/// What only one engine promises, and the pure partition hash.
struct EventStoreFacts {
    /// An append that returned is in the files on disk, before any checkpoint or close: a copy
    /// of the database and its WAL taken then (what a `kill -9` leaves) holds it.
    @Test func anAcknowledgedSQLiteAppendIsInTheFilesBeforeAnyCheckpoint() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-events-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("events.sqlite").path
        let store = try SQLiteEventStore(path: path)
        let events = (0..<3).map { Event(eventID: "e\($0)", type: "t", data: ByteBuffer(string: "[\($0)]"), timestamp: Int64($0)) }
        let receipts = try await store.append(events, now: 0, idempotencyWindow: 1_000)
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
        let copy = directory.appendingPathComponent("crashed.sqlite").path
        for suffix in ["", "-wal"] {
            try FileManager.default.copyItem(atPath: path + suffix, toPath: copy + suffix)
        }
        let reopened = try SQLiteEventStore(path: copy)
        let logged = try await reopened.events(EventQuery(limit: 10))
        #expect(logged.map(\.sequence) == receipts.map(\.sequence))
        #expect(logged.map(\.event) == events)
        // And the ids: a duplicate is still recognized after the restart.
        #expect(try await reopened.append([events[0]], now: 1, idempotencyWindow: 1_000)[0].duplicate)
        // And the stats, whose shares were still in memory: the reopened store counted them again.
        #expect(try await store.stats().count == 3)
        let recounted = try await reopened.stats()
        #expect(recounted.count == 3 && recounted.types["t"]?.newestSequence == receipts[2].sequence)
        try reopened.close()
        try store.close()
    }

    /// SQLite keeps the window's ids in memory, at most `idsInMemory`: those it moves out, and
    /// those of events retention removes, are still recognized, in memory and after a restart.
    @Test func sqliteIDsOutliveTheMemoryCapRetentionAndARestart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-events-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("events.sqlite").path
        let hour: Int64 = 3_600_000
        let events = (0..<6).map { Event(eventID: "e\($0)", type: "t", data: ByteBuffer(string: "[\($0)]"), timestamp: Int64($0)) }
        let store = try SQLiteEventStore(path: path, idsInMemory: 2, idsPerMove: 3)
        let first = try await store.append(events, now: 1_000, idempotencyWindow: hour)
        let originals = first.map { EventReceipt(sequence: $0.sequence, eventID: $0.eventID, timestamp: $0.timestamp, duplicate: true) }
        // Nothing is past the window; four of six ids move to the table (three, then one).
        #expect(try await store.forgetEventIDs(seenBefore: 1_000) == 0)
        let moved = try await DatabaseQueue(path: path).read { db in try String.fetchAll(db, sql: "SELECT event_id FROM chorus_event_ids ORDER BY seq") }
        #expect(moved == ["e0", "e1", "e2", "e3"])
        #expect(try await store.append(events, now: 1_001, idempotencyWindow: hour) == originals)
        // Retention removes every event; their ids stay.
        #expect(try await store.trim(EventRetention(maxEvents: 0), now: 1_002) == 6)
        #expect(try await store.events(EventQuery(limit: 10)).isEmpty)
        #expect(try await store.append(events, now: 1_003, idempotencyWindow: hour) == originals)
        try store.close()

        let reopened = try SQLiteEventStore(path: path, idsInMemory: 2)
        #expect(try await reopened.append(events.reversed(), now: 2_000, idempotencyWindow: hour) == originals.reversed())
        // Past the window they are new again, and forgotten.
        let later = try await reopened.append([events[0]], now: 1_000 + hour, idempotencyWindow: hour)
        #expect(!later[0].duplicate && later[0].sequence > first[5].sequence)
        #expect(try await reopened.forgetEventIDs(seenBefore: 1_001) == 6)
        #expect(try await reopened.append([events[1]], now: 1_000 + hour, idempotencyWindow: hour)[0].duplicate == false)
        #expect(try await reopened.append([events[0]], now: 1_001 + hour, idempotencyWindow: hour)[0].duplicate)
        try reopened.close()
    }

    /// SQLite finds a type's events through the blocks of 4,096 sequences that hold it: across
    /// blocks, in both orders, within sequence bounds, up to the limit, and after retention.
    @Test func sqliteTypeQueriesWalkTheBlocksThatHoldTheType() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-events-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteEventStore(path: directory.appendingPathComponent("events.sqlite").path)
        // 13,000 events: "rare" at sequences 5, 5,000 and 12,500 (blocks 0, 1 and 3; none in 2),
        // "odd" at every odd sequence, "common" elsewhere.
        let rare: Set<Int64> = [5, 5_000, 12_500]
        for start in stride(from: Int64(1), through: 13_000, by: 1_000) {
            let events = (start..<start + 1_000).map { sequence in
                Event(eventID: "e\(sequence)", type: rare.contains(sequence) ? "rare" : sequence % 2 == 1 ? "odd" : "common", data: ByteBuffer(string: "[]"), timestamp: sequence)
            }
            _ = try await store.append(events, now: 0, idempotencyWindow: 1)
        }
        func sequences(_ query: EventQuery) async throws -> [Int64] { try await store.events(query).map(\.sequence) }
        #expect(try await sequences(EventQuery(types: ["rare"], order: .newestFirst, limit: 10)) == [12_500, 5_000, 5])
        #expect(try await sequences(EventQuery(types: ["rare"], order: .newestFirst, limit: 2)) == [12_500, 5_000])
        #expect(try await sequences(EventQuery(afterSequence: 5, types: ["rare"], limit: 10)) == [5_000, 12_500])
        #expect(try await sequences(EventQuery(beforeSequence: 12_500, types: ["rare"], order: .newestFirst, limit: 10)) == [5_000, 5])
        #expect(try await sequences(EventQuery(afterSequence: 4_999, beforeSequence: 5_001, types: ["rare", "odd"], limit: 10)) == [5_000])
        #expect(try await sequences(EventQuery(afterSequence: 4_090, types: ["rare", "odd"], limit: 6)) == [4_091, 4_093, 4_095, 4_097, 4_099, 4_101])
        #expect(try await sequences(EventQuery(types: ["odd"], order: .newestFirst, limit: 3)) == [12_999, 12_997, 12_995])
        #expect(try await sequences(EventQuery(types: ["none"], limit: 10)).isEmpty)
        #expect(try await sequences(EventQuery(afterSequence: .max, types: ["rare"], limit: 10)).isEmpty)
        #expect(try await sequences(EventQuery(beforeSequence: 1, types: ["rare"], limit: 10)).isEmpty)
        // With a time range the blocks are not used, and the answer is the same.
        #expect(try await sequences(EventQuery(since: 0, types: ["rare"], order: .newestFirst, limit: 10)) == [12_500, 5_000, 5])
        // Retention removes blocks 0 and 1; what is left is still found, and appends find theirs.
        #expect(try await store.trim(EventRetention(maxEvents: 13_000 - 8_192), now: 0) == 8_192)
        #expect(try await sequences(EventQuery(types: ["rare"], order: .newestFirst, limit: 10)) == [12_500])
        _ = try await store.append([Event(eventID: "last", type: "rare", data: ByteBuffer(string: "[]"), timestamp: 0)], now: 0, idempotencyWindow: 1)
        #expect(try await sequences(EventQuery(types: ["rare"], order: .newestFirst, limit: 10)) == [13_001, 12_500])
        // The per-type stats, kept through the appends and the trim, are what the log holds.
        let stats = try await store.stats()
        let counted = try await DatabaseQueue(path: directory.appendingPathComponent("events.sqlite").path).read { db in
            try Row.fetchAll(db, sql: "SELECT type, count(*), sum(size), max(seq) FROM chorus_events GROUP BY type").map { row in
                [row[0] as String: EventLogStats.TypeStats(count: row[1], bytes: row[2], newestSequence: row[3], newestTimestamp: 0)]
            }
        }
        #expect(stats.types.mapValues { EventLogStats.TypeStats(count: $0.count, bytes: $0.bytes, newestSequence: $0.newestSequence, newestTimestamp: 0) }
            == counted.reduce(into: [:]) { $0.merge($1) { a, _ in a } })
        #expect(stats.count == 13_001 - 8_192 && stats.oldestSequence == 8_193 && stats.lastSequence == 13_001)
        #expect(stats.types["odd"]?.newestTimestamp == 12_999)
        try store.close()
    }

    /// A file written before events kept the time they were appended (every id in
    /// `chorus_event_ids`) and before type blocks is upgraded in place, its ids still recognized
    /// and its events found by type.
    @Test func anSQLiteFileFromBeforeAppendTimesKeepsItsIDs() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-events-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("events.sqlite").path
        let old = try DatabaseQueue(path: path)
        try await old.write { db in
            try db.execute(sql: """
                CREATE TABLE chorus_events (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, type TEXT NOT NULL, data BLOB NOT NULL,
                    ts INTEGER NOT NULL, correlation_id TEXT, partition_key TEXT, headers TEXT, size INTEGER NOT NULL);
                CREATE INDEX chorus_events_type ON chorus_events (type, seq);
                CREATE TABLE chorus_event_ids (event_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, ts INTEGER NOT NULL, seen_at INTEGER NOT NULL);
                INSERT INTO chorus_events (event_id, type, data, ts, size) VALUES ('old', 't', X'5B5D', 7, 2);
                INSERT INTO chorus_event_ids VALUES ('old', 1, 7, 1000);
                """)
        }
        try old.close()
        let store = try SQLiteEventStore(path: path)
        let receipts = try await store.append(
            [Event(eventID: "old", type: "t", data: ByteBuffer(string: "[]"), timestamp: 8), Event(eventID: "new", type: "t", data: ByteBuffer(string: "[]"), timestamp: 9)],
            now: 2_000, idempotencyWindow: 3_600_000)
        #expect(receipts == [EventReceipt(sequence: 1, eventID: "old", timestamp: 7, duplicate: true), EventReceipt(sequence: 2, eventID: "new", timestamp: 9, duplicate: false)])
        // Its index on (type, seq) gave way to blocks, which hold its events; its stats were counted.
        #expect(try await store.events(EventQuery(types: ["t"], limit: 10)).map(\.sequence) == [1, 2])
        #expect(try await store.stats().types["t"] == EventLogStats.TypeStats(
            count: 2, bytes: 2 + Event(eventID: "new", type: "t", data: ByteBuffer(string: "[]"), timestamp: 9).storedSize, newestSequence: 2, newestTimestamp: 9))
        try store.close()
        let reopened = try SQLiteEventStore(path: path)
        #expect(try await reopened.append([Event(eventID: "new", type: "t", data: ByteBuffer(string: "[]"), timestamp: 10)], now: 3_000, idempotencyWindow: 3_600_000)[0].sequence == 2)
        try reopened.close()
        let indexes = try await DatabaseQueue(path: path).read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'chorus_events'")
        }
        #expect(indexes == ["chorus_events_ts"])
    }

    @Test func partitionsAreFNV1aOfTheKeyAndSpreadKeylessEventsBySequence() {
        // Published FNV-1a 64 test vectors.
        #expect(EventPartition.fnv1a("") == 0xcbf2_9ce4_8422_2325)
        #expect(EventPartition.fnv1a("a") == 0xaf63_dc4c_8601_ec8c)
        #expect(EventPartition.fnv1a("foobar") == 0x8594_4171_f739_67e8)
        #expect(EventPartition.of(key: "foobar", sequence: 9, count: 7) == Int(0x8594_4171_f739_67e8 % UInt64(7)))
        #expect((0..<8).map { EventPartition.of(key: nil, sequence: $0, count: 4) } == [0, 1, 2, 3, 0, 1, 2, 3])
        #expect(EventPartition.of(key: "anything", sequence: 5, count: 1) == 0)
    }
}
