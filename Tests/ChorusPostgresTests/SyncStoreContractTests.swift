import ChorusCore
import ChorusSQLite
import ChorusTestSupport
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Testing

@testable import ChorusPostgres

/// One contract for the sync collections' two stores (docs/sync.md): every case runs on
/// SQLiteSyncStore and on PostgresSyncStore, each on a fresh database. `other` is a second node
/// on the same database (PostgreSQL: a second pool; SQLite is one node, so the same store).
@Suite(.serialized) struct SyncStoreContractTests {
    typealias Case = @Sendable (_ store: any SyncStore, _ other: any SyncStore) async throws -> Void

    static let limits = SyncLimits(maxRecords: 100, maxRecordSize: 1024, changesKept: 5, mutationsKept: 5)

    static func mutation(_ op: SyncOperation, _ id: String?, _ data: String? = nil, base: UInt64? = nil, mid: String = UUID().uuidString) -> SyncMutation {
        SyncMutation(op: op, recordID: id, data: data.map { ByteBuffer(string: $0) }, baseVersion: base, mutationID: mid)
    }

    // MARK: - Engines

    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("chorus-sync-\(UUID().uuidString)/sync.sqlite").path
    }

    @Test(arguments: Self.cases.map(\.name))
    func sqlite(_ name: String) async throws {
        let store = try SQLiteSyncStore(path: Self.temporaryPath())
        try await Self.cases.first { $0.name == name }!.run(store, store)
        try store.close()
    }

    @Test func postgres() async throws {
        try await PostgresServiceTests.eachOnTwoNodes(Self.cases.count, database: "sync") { index, node, second in
            try await Self.cases[index].run(PostgresSyncStore(client: node.client), PostgresSyncStore(client: second.client))
        }
    }

    /// SQLite alone: a reopened file has every acknowledged change (PostgreSQL's durability is
    /// the server's; `other` reads what `store` wrote).
    @Test func sqliteIsDurableAcrossAReopen() async throws {
        let path = Self.temporaryPath()
        let store = try SQLiteSyncStore(path: path)
        for index in 1...8 { _ = try await store.mutate(Self.mutation(.insert, "r\(index)", #"{"i":\#(index)}"#), in: "t:x", limits: Self.limits, by: nil) }
        try store.close()
        let reopened = try SQLiteSyncStore(path: path)
        #expect(try await reopened.snapshot(of: "t:x").records.count == 8)
        #expect(try await reopened.changes(of: "t:x", since: 7)?.changes.map(\.recordID) == ["r8"])
        try reopened.close()
    }

    static let cases: [(name: String, run: Case)] = [
        ("versionsAndCommitsInOrder", versionsAndCommitsInOrder), ("staleBaseVersion", staleBaseVersion),
        ("retriedMutationID", retriedMutationID), ("changesWhileKept", changesWhileKept), ("limits", limits),
        ("changesExpireByAge", changesExpireByAge), ("concurrentWriters", concurrentWriters),
        ("oneMutationIDOnTwoNodes", oneMutationIDOnTwoNodes), ("largeRecords", largeRecords),
    ]

    // MARK: - Cases

    static func versionsAndCommitsInOrder(_ store: any SyncStore, _ other: any SyncStore) async throws {
        let heard = NIOLockedValueBox<[UInt64]>([])
        store.onCommit { change in heard.withLockedValue { $0.append(change.version) } }
        let a = try await store.mutate(Self.mutation(.insert, "a", #"{"n":1}"#), in: "t:x", limits: Self.limits, by: "alice")
        let b = try await store.mutate(Self.mutation(.insert, nil, #"{"n":2}"#), in: "t:x", limits: Self.limits, by: "bob")
        let y = try await store.mutate(Self.mutation(.insert, "a", #"{"n":3}"#), in: "t:y", limits: Self.limits, by: nil)
        #expect(a.version == 1 && b.version == 2 && y.version == 1)
        #expect(!b.recordID.isEmpty && b.recordID != "a")
        _ = try await store.mutate(Self.mutation(.update, "a", #"{"n":4}"#), in: "t:x", limits: Self.limits, by: "alice")
        _ = try await store.mutate(Self.mutation(.delete, b.recordID), in: "t:x", limits: Self.limits, by: "alice")
        let snapshot = try await other.snapshot(of: "t:x")
        #expect(snapshot == SyncSnapshot(version: 4, records: [SyncRecord(id: "a", version: 3, data: ByteBuffer(string: #"{"n":4}"#), updatedAt: snapshot.records[0].updatedAt, updatedBy: "alice")]))
        #expect(heard.withLockedValue { $0 } == [1, 2, 1, 3, 4])
        #expect(try await other.snapshot(of: "t:none") == SyncSnapshot(version: 0, records: []))
        #expect(try await other.changes(of: "t:none", since: 0)?.changes.isEmpty == true)
    }

    static func staleBaseVersion(_ store: any SyncStore, _ other: any SyncStore) async throws {
        _ = try await store.mutate(Self.mutation(.insert, "a", #"{"n":1}"#), in: "t:x", limits: Self.limits, by: "alice")
        _ = try await other.mutate(Self.mutation(.update, "a", #"{"n":2}"#, base: 1), in: "t:x", limits: Self.limits, by: "alice")
        await #expect(throws: SyncRefusal.self) {
            try await store.mutate(Self.mutation(.update, "a", #"{"n":3}"#, base: 1), in: "t:x", limits: Self.limits, by: "bob")
        }
        do {
            _ = try await store.mutate(Self.mutation(.delete, "a", base: 1), in: "t:x", limits: Self.limits, by: "bob")
            Issue.record("a stale delete was applied")
        } catch let SyncRefusal.conflict(current) {
            #expect(current?.version == 2 && current?.data == ByteBuffer(string: #"{"n":2}"#))
        }
        await #expect(throws: SyncRefusal.notFound(recordID: "zz")) {
            try await store.mutate(Self.mutation(.update, "zz", "{}"), in: "t:x", limits: Self.limits, by: "bob")
        }
        #expect(try await store.snapshot(of: "t:x").version == 2)
        #expect(try await other.record("a", in: "t:x")?.version == 2)
        #expect(try await other.record("zz", in: "t:x") == nil)
    }

    static func retriedMutationID(_ store: any SyncStore, _ other: any SyncStore) async throws {
        let first = try await store.mutate(Self.mutation(.insert, nil, #"{"n":1}"#, mid: "m1"), in: "t:x", limits: Self.limits, by: "alice")
        let again = try await other.mutate(Self.mutation(.insert, nil, #"{"n":1}"#, mid: "m1"), in: "t:x", limits: Self.limits, by: "alice")
        #expect(again == SyncAck(recordID: first.recordID, version: 1, mutationID: "m1", record: nil))
        #expect(try await store.snapshot(of: "t:x").records.count == 1)
        // Past the window of remembered ids, the id is forgotten (the window is the changes kept).
        for index in 0..<5 { _ = try await store.mutate(Self.mutation(.update, first.recordID, #"{"i":\#(index)}"#), in: "t:x", limits: Self.limits, by: nil) }
        let late = try await store.mutate(Self.mutation(.insert, nil, #"{"n":1}"#, mid: "m1"), in: "t:x", limits: Self.limits, by: "alice")
        #expect(late.version == 7)
    }

    static func changesWhileKept(_ store: any SyncStore, _ other: any SyncStore) async throws {
        for index in 1...8 { _ = try await store.mutate(Self.mutation(.insert, "r\(index)", #"{"i":\#(index)}"#, mid: "m\(index)"), in: "t:x", limits: Self.limits, by: "u") }
        // 5 changes kept: versions 4...8; a client at 3 or later resumes.
        let resumed = try #require(try await other.changes(of: "t:x", since: 3))
        #expect(resumed.version == 8 && resumed.changes.map(\.version) == [4, 5, 6, 7, 8])
        #expect(resumed.changes.first == SyncChange(
            collection: "t:x", op: .insert, recordID: "r4", version: 4, data: ByteBuffer(string: #"{"i":4}"#), mutationID: "m4", by: "u",
            at: resumed.changes[0].at))
        #expect(try await other.changes(of: "t:x", since: 8)?.changes.isEmpty == true)
        #expect(try await other.changes(of: "t:x", since: 2) == nil)
        #expect(try await other.changes(of: "t:x", since: 9) == nil)
    }

    static func limits(_ store: any SyncStore, _: any SyncStore) async throws {
        let small = SyncLimits(maxRecords: 1, maxRecordSize: 8, changesKept: 5, mutationsKept: 5)
        _ = try await store.mutate(Self.mutation(.insert, "a", "{}"), in: "t:x", limits: small, by: nil)
        await #expect(throws: SyncRefusal.collectionFull(limit: 1)) { try await store.mutate(Self.mutation(.insert, "b", "{}"), in: "t:x", limits: small, by: nil) }
        await #expect(throws: SyncRefusal.recordTooLarge(size: 11, limit: 8)) { try await store.mutate(Self.mutation(.update, "a", #"{"a":"123"}"#), in: "t:x", limits: small, by: nil) }
        // A delete makes room again.
        _ = try await store.mutate(Self.mutation(.delete, "a"), in: "t:x", limits: small, by: nil)
        _ = try await store.mutate(Self.mutation(.insert, "b", "{}"), in: "t:x", limits: small, by: nil)
        #expect(try await store.snapshot(of: "t:x").version == 3)
    }

    /// With a TTL, a change older than it is dropped from the log (the newest never is).
    static func changesExpireByAge(_ store: any SyncStore, _ other: any SyncStore) async throws {
        let aged = SyncLimits(maxRecords: 100, maxRecordSize: 1024, changesKept: 100, mutationsKept: 100, changesTTL: 0)
        let first = try await store.mutate(Self.mutation(.insert, "a", "{}"), in: "t:x", limits: aged, by: nil)
        #expect(try await other.changes(of: "t:x", since: 0)?.changes.count == 1)
        // The next change is written once the clock has moved past the first.
        let written = try #require(first.record?.updatedAt)
        while WallClock.milliseconds() <= written { await Task.yield() }
        _ = try await store.mutate(Self.mutation(.update, "a", #"{"n":2}"#), in: "t:x", limits: aged, by: nil)
        #expect(try await other.changes(of: "t:x", since: 0) == nil)
        #expect(try await other.changes(of: "t:x", since: 1)?.changes.map(\.version) == [2])
        // Without a TTL, count alone keeps them.
        _ = try await store.mutate(Self.mutation(.insert, "b", "{}"), in: "t:y", limits: Self.limits, by: nil)
        _ = try await store.mutate(Self.mutation(.insert, "c", "{}"), in: "t:y", limits: Self.limits, by: nil)
        #expect(try await other.changes(of: "t:y", since: 0)?.changes.count == 2)
    }

    /// Writers on two nodes at once: every version once, increasing, and the log, the records
    /// and the version agree.
    static func concurrentWriters(_ store: any SyncStore, _ other: any SyncStore) async throws {
        let roomy = SyncLimits(maxRecords: 1_000, maxRecordSize: 1024, changesKept: 1_000, mutationsKept: 1_000)
        _ = try await store.mutate(Self.mutation(.insert, "shared", "{}"), in: "t:c", limits: roomy, by: nil)
        let acks = try await withThrowingTaskGroup(of: [SyncAck].self) { group in
            for (writer, node) in [store, other, store, other].enumerated() {
                group.addTask {
                    var acks: [SyncAck] = []
                    for index in 0..<25 {
                        // Half on one shared record, last write wins; half new records.
                        let shared = index.isMultiple(of: 2)
                        let mutation = Self.mutation(shared ? .update : .insert, shared ? "shared" : "w\(writer)-\(index)", #"{"w":\#(writer),"i":\#(index)}"#)
                        acks.append(try await node.mutate(mutation, in: "t:c", limits: roomy, by: nil))
                    }
                    return acks
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(acks.count == 100)
        #expect(Set(acks.map(\.version)) == Set(2...101))
        let log = try #require(try await store.changes(of: "t:c", since: 0))
        #expect(log.version == 101 && log.changes.map(\.version) == Array(1...101))
        let snapshot = try await other.snapshot(of: "t:c")
        #expect(snapshot.version == 101 && snapshot.records.count == 49)
        // Each record is the last change the log made to it.
        var expected: [String: SyncRecord] = [:]
        for change in log.changes { expected[change.recordID] = change.record }
        #expect(snapshot.records == expected.values.sorted { $0.id < $1.id })
    }

    /// The same mutation id sent to two nodes at once (a retry after a lost ack) is applied once.
    static func oneMutationIDOnTwoNodes(_ store: any SyncStore, _ other: any SyncStore) async throws {
        let acks = try await withThrowingTaskGroup(of: SyncAck.self) { group in
            for node in [store, other, store, other] {
                group.addTask { try await node.mutate(Self.mutation(.insert, nil, #"{"n":1}"#, mid: "once"), in: "t:x", limits: Self.limits, by: nil) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(acks.map(\.recordID)).count == 1 && Set(acks.map(\.version)) == [1])
        #expect(acks.filter { $0.record != nil }.count == 1)
        #expect(try await store.snapshot(of: "t:x").records.count == 1)
    }

    /// A record too large for a PostgreSQL notification is stored and read back whole.
    static func largeRecords(_ store: any SyncStore, _ other: any SyncStore) async throws {
        let big = #"{"s":""# + String(repeating: "é", count: 10_000) + #""}"#
        let wide = SyncLimits(maxRecords: 10, maxRecordSize: 65_536, changesKept: 10, mutationsKept: 10)
        _ = try await store.mutate(Self.mutation(.insert, "big", big), in: "t:x", limits: wide, by: nil)
        #expect(try await other.record("big", in: "t:x")?.data == ByteBuffer(string: big))
        #expect(try await other.changes(of: "t:x", since: 0)?.changes.first?.data == ByteBuffer(string: big))
    }
}
