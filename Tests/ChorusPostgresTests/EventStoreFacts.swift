import ChorusCore
import ChorusSQLite
import Foundation
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
