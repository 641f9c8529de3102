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
        let store = try SQLiteEventStore(path: path, idsInMemory: 2)
        let first = try await store.append(events, now: 1_000, idempotencyWindow: hour)
        let originals = first.map { EventReceipt(sequence: $0.sequence, eventID: $0.eventID, timestamp: $0.timestamp, duplicate: true) }
        // Nothing is past the window; four of six ids move to the table.
        #expect(try await store.forgetEventIDs(seenBefore: 1_000) == 0)
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

    /// A file written before events kept the time they were appended (every id in
    /// `chorus_event_ids`) is upgraded in place, its ids still recognized.
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
        try store.close()
        let reopened = try SQLiteEventStore(path: path)
        #expect(try await reopened.append([Event(eventID: "new", type: "t", data: ByteBuffer(string: "[]"), timestamp: 10)], now: 3_000, idempotencyWindow: 3_600_000)[0].sequence == 2)
        try reopened.close()
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
