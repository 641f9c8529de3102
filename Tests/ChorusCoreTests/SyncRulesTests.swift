import NIOCore
import Testing

@testable import ChorusCore

/// Versions, conflicts and limits of sync mutations, and the frames they make, without I/O.
@Suite struct SyncRulesTests {
    static let limits = SyncLimits(maxRecords: 2, maxRecordSize: 16, changesKept: 3, mutationsKept: 3)

    static func record(_ id: String, version: UInt64, data: String = #"{"a":1}"#) -> SyncRecord {
        SyncRecord(id: id, version: version, data: ByteBuffer(string: data), updatedAt: 5, updatedBy: "alice")
    }

    static func change(_ mutation: SyncMutation, current: SyncRecord? = nil, version: UInt64 = 7, count: Int = 0) throws(SyncRefusal) -> SyncChange {
        try SyncRules.change(mutation, in: "tasks:list", current: current, version: version, recordCount: count, limits: Self.limits, by: "bob", now: 42, newID: { "new" })
    }

    static func mutation(_ op: SyncOperation, _ id: String?, data: String? = #"{"b":2}"#, base: UInt64? = nil) -> SyncMutation {
        SyncMutation(op: op, recordID: id, data: data.map { ByteBuffer(string: $0) }, baseVersion: base, mutationID: "m1")
    }

    @Test func everyChangeIsTheNextVersion() throws {
        let insert = try Self.change(Self.mutation(.insert, nil))
        #expect(insert == SyncChange(collection: "tasks:list", op: .insert, recordID: "new", version: 8, data: ByteBuffer(string: #"{"b":2}"#), mutationID: "m1", by: "bob", at: 42))
        #expect(insert.record == SyncRecord(id: "new", version: 8, data: ByteBuffer(string: #"{"b":2}"#), updatedAt: 42, updatedBy: "bob"))
        let update = try Self.change(Self.mutation(.update, "r"), current: Self.record("r", version: 3))
        #expect(update.version == 8 && update.recordID == "r")
        let delete = try Self.change(Self.mutation(.delete, "r", data: nil), current: Self.record("r", version: 3))
        #expect(delete.version == 8 && delete.data == nil && delete.record == nil)
    }

    @Test func aStaleBaseVersionIsAConflictCarryingTheCurrentRecord() {
        let current = Self.record("r", version: 5)
        #expect(throws: SyncRefusal.conflict(current: current)) { try Self.change(Self.mutation(.update, "r", base: 4), current: current) }
        #expect(throws: SyncRefusal.conflict(current: current)) { try Self.change(Self.mutation(.delete, "r", data: nil, base: 6), current: current) }
        // The record was deleted since: a conflict with nothing current.
        #expect(throws: SyncRefusal.conflict(current: nil)) { try Self.change(Self.mutation(.update, "r", base: 5)) }
        // The version seen is the version stored: applied.
        #expect((try? Self.change(Self.mutation(.update, "r", base: 5), current: current))?.version == 8)
    }

    @Test func withoutABaseVersionTheLastWriteWins() throws {
        let change = try Self.change(Self.mutation(.update, "r", data: #"{"z":0}"#), current: Self.record("r", version: 6))
        #expect(change.data == ByteBuffer(string: #"{"z":0}"#))
        #expect(throws: SyncRefusal.notFound(recordID: "gone")) { try Self.change(Self.mutation(.update, "gone")) }
        #expect(throws: SyncRefusal.notFound(recordID: "gone")) { try Self.change(Self.mutation(.delete, "gone", data: nil)) }
    }

    @Test func insertingAnExistingIdIsAConflict() {
        let current = Self.record("r", version: 2)
        #expect(throws: SyncRefusal.conflict(current: current)) { try Self.change(Self.mutation(.insert, "r"), current: current) }
    }

    @Test func limitsRefuseLargeRecordsAndFullCollections() {
        #expect(throws: SyncRefusal.recordTooLarge(size: 17, limit: 16)) { try Self.change(Self.mutation(.insert, nil, data: #"{"a":"123456789"}"#)) }
        #expect(throws: SyncRefusal.collectionFull(limit: 2)) { try Self.change(Self.mutation(.insert, nil), count: 2) }
        // Updates of a full collection still go through.
        #expect((try? Self.change(Self.mutation(.update, "r"), current: Self.record("r", version: 1), count: 2)) != nil)
    }

    @Test func malformedMutationsAreRefused() {
        #expect(throws: SyncRefusal.invalid("'insert' needs 'data'")) { try Self.change(Self.mutation(.insert, nil, data: nil)) }
        #expect(throws: SyncRefusal.invalid("'update' needs 'record_id'")) { try Self.change(Self.mutation(.update, nil)) }
    }

    @Test func resumeIsCoveredWhileEveryLaterChangeIsKept() {
        #expect(SyncRules.compaction(version: 10, kept: 3) == 7)
        #expect(SyncRules.compaction(version: 2, kept: 3) == 0)
        #expect(SyncRules.covers(since: 7, compactedThrough: 7, version: 10))
        #expect(SyncRules.covers(since: 10, compactedThrough: 7, version: 10))
        #expect(!SyncRules.covers(since: 6, compactedThrough: 7, version: 10))
        // Ahead of the collection: another history (a store reset); a snapshot is the answer.
        #expect(!SyncRules.covers(since: 11, compactedThrough: 7, version: 10))
    }

    @Test func framesAreWrittenAsTheProtocolSpellsThem() {
        let change = SyncChange(collection: "tasks:list", op: .update, recordID: "r", version: 9, data: ByteBuffer(string: #"{"x":true}"#), mutationID: "m", by: "bob", at: 1)
        var buffer = ByteBuffer()
        change.writeFrame(into: &buffer)
        #expect(String(buffer: buffer) == #"{"type":"sync_change","collection":"tasks:list","op":"update","record_id":"r","version":9,"data":{"x":true},"mutation_id":"m","by":"bob"}"#)
        buffer.clear()
        ServerFrame.syncChanges(collection: "c", version: 9, changes: [change]).write(into: &buffer, id: RawJSON(kind: .number, bytes: ByteBuffer(string: "3")))
        #expect(String(buffer: buffer) == #"{"type":"sync_changes","id":3,"collection":"c","version":9,"changes":[{"at":1,"op":"update","record_id":"r","version":9,"data":{"x":true},"mutation_id":"m","by":"bob"}]}"#)
        buffer.clear()
        ServerFrame.syncConflict(message: "stale", current: Self.record("r", version: 2)).write(into: &buffer)
        #expect(String(buffer: buffer) == #"{"type":"error","code":"conflict","message":"stale","current":{"id":"r","version":2,"data":{"a":1},"updated_at":5,"updated_by":"alice"}}"#)
        buffer.clear()
        ServerFrame.syncAck(SyncAck(recordID: "r", version: 9, mutationID: "m", record: nil)).write(into: &buffer)
        #expect(String(buffer: buffer) == #"{"type":"ack","record_id":"r","version":9,"mutation_id":"m"}"#)
    }

    @Test func decodesSyncFrames() throws {
        let decoder = ClientFrameDecoder()
        func decode(_ text: String) -> Result<ClientFrame, ProtocolError> { decoder.decode(ByteBuffer(string: text)).result }
        guard case .success(.syncSubscribe(let topic, let since)) = decode(#"{"type":"sync_subscribe","collection":"tasks:a","since":12}"#) else { Issue.record("not a subscribe"); return }
        #expect(topic.name == "tasks:a" && since == 12)
        guard case .success(.syncMutate(_, let mutation)) = decode(#"{"type":"sync_mutate","collection":"tasks:a","op":"update","record_id":"r","data":{"a":1},"base_version":3,"mutation_id":"m"}"#) else { Issue.record("not a mutate"); return }
        #expect(mutation.op == .update && mutation.recordID == "r" && mutation.baseVersion == 3 && mutation.data == ByteBuffer(string: #"{"a":1}"#))
        for (text, message) in [
            (#"{"type":"sync_mutate","collection":"t:a","op":"upsert","mutation_id":"m"}"#, "field 'op' must be insert, update or delete"),
            (#"{"type":"sync_mutate","collection":"t:a","op":"insert","data":{}}"#, "missing field 'mutation_id'"),
            (#"{"type":"sync_mutate","collection":"t:a","op":"delete","mutation_id":"m"}"#, "'delete' needs 'record_id'"),
            (#"{"type":"sync_mutate","collection":"t:a","op":"update","record_id":"r","mutation_id":"m"}"#, "'update' needs 'data'"),
            (#"{"type":"sync_mutate","collection":"t:a","op":"insert","data":{},"mutation_id":""}"#, "field 'mutation_id' must be 1 to 128 bytes long"),
            (#"{"type":"sync_subscribe","collection":"t:a","since":-1}"#, "field 'since' must be a version: a whole number ≥ 0"),
            (#"{"type":"sync_subscribe","collection":"t:*"}"#, "cannot publish to a pattern: 't:*'"),
        ] {
            guard case .failure(let error) = decode(text) else { Issue.record("accepted \(text)"); continue }
            #expect(error.code == .badRequest)
            #expect(error.message == message)
        }
    }
}

/// The join of a snapshot and the live stream for one subscriber, without I/O.
@Suite struct SyncSeamTests {
    @Test func changesBeforeTheAnswerAreBufferedAndOnlyThoseAfterItsVersionFollowIt() {
        var seam = SyncSeam<String>()
        // Committed while the snapshot was being read: 4 and 5 are in it, 6 and 7 are not.
        #expect(seam.received("c4", version: 4) == nil)
        #expect(seam.received("c5", version: 5) == nil)
        #expect(seam.received("c6", version: 6) == nil)
        #expect(seam.received("c7", version: 7) == nil)
        #expect(!seam.isLive)
        #expect(seam.answered(at: 5) == ["c6", "c7"])
        #expect(seam.isLive)
        // Live: each later change once, in order; an old or repeated one is dropped.
        #expect(seam.received("c7", version: 7) == nil)
        #expect(seam.received("c8", version: 8) == "c8")
        #expect(seam.received("c8", version: 8) == nil)
        #expect(seam.received("c9", version: 9) == "c9")
        // A late second answer changes nothing.
        #expect(seam.answered(at: 3) == [])
        #expect(seam.received("c10", version: 10) == "c10")
    }

    @Test func anAnswerNewerThanEveryBufferedChangeSendsNoneOfThem() {
        var seam = SyncSeam<Int>()
        _ = seam.received(1, version: 1)
        _ = seam.received(2, version: 2)
        #expect(seam.answered(at: 2) == [])
        #expect(seam.received(2, version: 2) == nil)
        #expect(seam.received(3, version: 3) == 3)
    }

    @Test func withNothingBufferedTheStreamStartsAfterTheAnswer() {
        var seam = SyncSeam<Int>()
        #expect(seam.answered(at: 0) == [])
        #expect(seam.received(1, version: 1) == 1)
    }
}
