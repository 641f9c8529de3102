import ChorusCore
import NIOCore
import Testing

@testable import ChorusClient

/// A collection's records from snapshots and changes in version order (docs/sync.md), without I/O.
@Suite struct SyncRecordMapTests {
    static func record(_ id: String, _ version: UInt64, _ title: String = "t") -> SyncRecord {
        SyncRecord(id: id, version: version, data: ByteBuffer(string: #"{"title":"\#(title)"}"#), updatedAt: 0, updatedBy: nil)
    }

    static func change(_ op: SyncOperation, _ id: String, _ version: UInt64, _ title: String = "t", mutation: String? = nil) -> SyncChange {
        SyncChange(
            collection: "tasks:x", op: op, recordID: id, version: version, data: op == .delete ? nil : ByteBuffer(string: #"{"title":"\#(title)"}"#),
            mutationID: mutation, by: nil, at: 0)
    }

    @Test func changesApplyInVersionOrderEachOnce() {
        var map = SyncRecordMap()
        #expect(map.applySnapshot(SyncSnapshot(version: 2, records: [Self.record("a", 1), Self.record("b", 2)])) == [.snapshot(version: 2)])
        // At or below the snapshot's version: already in it.
        #expect(map.apply(Self.change(.update, "a", 2, "old")) == nil)
        let update = map.apply(Self.change(.update, "a", 3, "new", mutation: "m1"))
        #expect(update?.op == .update && update?.previous == Self.record("a", 1) && update?.mutationID == "m1")
        #expect(map.apply(Self.change(.update, "a", 3, "again")) == nil)
        #expect(map.apply(Self.change(.delete, "b", 4))?.op == .delete)
        #expect(map.apply(Self.change(.insert, "c", 5))?.op == .insert)
        #expect(map.version == 5)
        #expect(map.sorted.map(\.id) == ["a", "c"])
        #expect(map.records["a"]?.data == ByteBuffer(string: #"{"title":"new"}"#))
    }

    @Test func aResumesChangesApplyAndSetTheVersion() {
        var map = SyncRecordMap()
        _ = map.applySnapshot(SyncSnapshot(version: 1, records: [Self.record("a", 1)]))
        let updates = map.applyChanges([Self.change(.update, "a", 2), Self.change(.insert, "b", 3)], version: 4)
        #expect(updates.count == 2)
        #expect(map.version == 4)
    }

    @Test func aLaterSnapshotReportsWhatChangedMeanwhile() {
        var map = SyncRecordMap()
        _ = map.applySnapshot(SyncSnapshot(version: 2, records: [Self.record("a", 1), Self.record("b", 2)]))
        let updates = map.applySnapshot(SyncSnapshot(version: 9, records: [Self.record("b", 7, "x"), Self.record("c", 9)]))
        #expect(updates.first == .snapshot(version: 9))
        let changes = updates.dropFirst().compactMap { update -> String? in
            guard case .change(let change) = update else { return nil }
            return "\(change.op.rawValue) \(change.id)"
        }
        #expect(changes == ["delete a", "update b", "insert c"])
    }

    @Test func aConflictsCurrentRecordIsKeptUnlessANewerOneIsKnown() {
        var map = SyncRecordMap()
        _ = map.applySnapshot(SyncSnapshot(version: 3, records: [Self.record("a", 3)]))
        map.learn(id: "a", record: Self.record("a", 5, "theirs"))
        #expect(map.records["a"]?.version == 5)
        map.learn(id: "a", record: Self.record("a", 4, "older"))
        #expect(map.records["a"]?.version == 5)
        // The change that made version 5 comes later: the collection's version moves, the record stays.
        #expect(map.apply(Self.change(.update, "a", 5, "theirs")) == nil)
        #expect(map.version == 5)
        map.learn(id: "a", record: nil)
        #expect(map.records["a"] == nil)
    }
}
