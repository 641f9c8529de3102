public import ChorusCore
import Foundation
import GRDB
import NIOConcurrencyHelpers
import NIOCore

/// Sync collections on one node: their own SQLite file in WAL mode (`sync.sqlite` in
/// `data_dir`), every mutation committed (`synchronous = FULL` by default) before its ack, the
/// mutations that arrive together in one transaction. One writer, so versions follow commit order and the committed changes are
/// handed on in that order; snapshots read in parallel, each at one committed version.
public final class SQLiteSyncStore: SyncStore {
    private let pool: DatabasePool
    private let handler = NIOLockedValueBox<(@Sendable (SyncChange) -> Void)?>(nil)
    /// Mutations waiting for the next transaction, and whether a writer is at work.
    private let requests = NIOLockedValueBox<(waiting: [Request], writing: Bool)>(([], false))
    /// The database file.
    public let path: String

    /// Opens (or creates) the database at `path`.
    public init(path: String, sync: SQLiteMessageStore.Sync = .full) throws(StoreError) {
        self.path = path
        self.pool = try SQLiteFile.pool("sync", at: path, sync: sync, schema: Self.schema)
    }

    /// Closes the connections; the WAL is checkpointed into the file.
    public func close() throws {
        try self.pool.close()
    }

    private static let schema = """
        CREATE TABLE IF NOT EXISTS chorus_sync_collections (
            collection TEXT PRIMARY KEY, version INTEGER NOT NULL, compacted_through INTEGER NOT NULL, records INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS chorus_sync_records (
            collection TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, data BLOB NOT NULL,
            updated_at INTEGER NOT NULL, updated_by TEXT, PRIMARY KEY (collection, id));
        CREATE TABLE IF NOT EXISTS chorus_sync_changes (
            collection TEXT NOT NULL, version INTEGER NOT NULL, op TEXT NOT NULL, record_id TEXT NOT NULL,
            data BLOB, mutation_id TEXT, by TEXT, at INTEGER NOT NULL, PRIMARY KEY (collection, version));
        CREATE TABLE IF NOT EXISTS chorus_sync_mutations (
            collection TEXT NOT NULL, mutation_id TEXT NOT NULL, record_id TEXT NOT NULL, version INTEGER NOT NULL,
            PRIMARY KEY (collection, mutation_id));
        CREATE INDEX IF NOT EXISTS chorus_sync_mutations_version ON chorus_sync_mutations (collection, version);
        """

    /// See ``SyncStore/onCommit(_:)``.
    public func onCommit(_ handler: @escaping @Sendable (SyncChange) -> Void) {
        self.handler.withLockedValue { $0 = handler }
    }

    /// See ``SyncStore/mutate(_:in:limits:by:)``. Mutations that arrive while a transaction is
    /// being written wait for the next one and share it (group commit: one fsync for all).
    public func mutate(_ mutation: SyncMutation, in collection: String, limits: SyncLimits, by: String?) async throws -> SyncAck {
        try await withCheckedThrowingContinuation { continuation in
            let request = Request(mutation: mutation, collection: collection, limits: limits, by: by, continuation: continuation)
            let mustStart = self.requests.withLockedValue { queue in
                queue.waiting.append(request)
                defer { queue.writing = true }
                return !queue.writing
            }
            if mustStart { Task { await self.writeBatches() } }
        }
    }

    private struct Request: Sendable {
        let mutation: SyncMutation
        let collection: String
        let limits: SyncLimits
        let by: String?
        let continuation: CheckedContinuation<SyncAck, any Error>
    }

    /// Writes the waiting mutations, one transaction a batch, until none waits.
    private func writeBatches() async {
        while true {
            let batch = self.requests.withLockedValue { queue in
                defer { queue.waiting = [] }
                if queue.waiting.isEmpty { queue.writing = false }
                return queue.waiting
            }
            guard !batch.isEmpty else { return }
            let handler = self.handler.withLockedValue { $0 }
            let results: [Result<SyncAck, any Error>]
            do {
                results = try await self.pool.writeWithoutTransaction { db in
                    var results: [Result<SyncAck, any Error>] = []
                    var changes: [SyncChange] = []
                    try db.inTransaction(.immediate) {
                        results = []
                        changes = []
                        for request in batch {
                            do {
                                let (ack, change) = try Self.apply(request, db)
                                results.append(.success(ack))
                                if let change { changes.append(change) }
                            } catch let refusal as SyncRefusal {
                                // The rules refuse before anything is written: the batch goes on.
                                results.append(.failure(refusal))
                            }
                        }
                        return .commit
                    }
                    // Committed: subscribers hear of the changes before the writers' acks, in version order.
                    for change in changes { handler?(change) }
                    return results
                }
            } catch {
                results = batch.map { _ in .failure(error) }
            }
            for (request, result) in zip(batch, results) { request.continuation.resume(with: result) }
        }
    }

    /// One mutation inside the batch's transaction: the remembered answer of its mutation id, or
    /// the change the rules make, written. Its statements are the connection's cached ones:
    /// compiling them anew (SQLite's parser, GRDB's authorizer) cost more than running them.
    private static func apply(_ request: Request, _ db: Database) throws -> (SyncAck, SyncChange?) {
        let (mutation, collection) = (request.mutation, request.collection)
        if let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT record_id, version FROM chorus_sync_mutations WHERE collection = ? AND mutation_id = ?"),
            arguments: [collection, mutation.mutationID])
        {
            return (SyncAck(recordID: row[0], version: UInt64(row[1] as Int64), mutationID: mutation.mutationID, record: nil), nil)
        }
        let position = try Self.position(db, collection)
        let current = try mutation.recordID.flatMap { try Self.record(db, $0, in: collection) }
        let change = try SyncRules.change(
            mutation, in: collection, current: current, version: position.version, recordCount: position.records, limits: request.limits,
            by: request.by, now: WallClock.milliseconds(), newID: { UUID().uuidString.lowercased() })
        try Self.write(change, limits: request.limits, db)
        return (SyncAck(recordID: change.recordID, version: change.version, mutationID: mutation.mutationID, record: change.record), change)
    }

    /// Writes an applied change: the record, the log, the version, the mutation id; then drops
    /// the changes and mutation ids past what is kept.
    private static func write(_ change: SyncChange, limits: SyncLimits, _ db: Database) throws {
        let collection = change.collection
        if let data = change.data {
            try db.cachedStatement(
                sql: "INSERT OR REPLACE INTO chorus_sync_records (collection, id, version, data, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?)",
            ).execute(arguments: [collection, change.recordID, Int64(change.version), Data(data.readableBytesView), change.at, change.by])
        } else {
            try db.cachedStatement(sql: "DELETE FROM chorus_sync_records WHERE collection = ? AND id = ?").execute(arguments: [collection, change.recordID])
        }
        try db.cachedStatement(
            sql: "INSERT INTO chorus_sync_changes (collection, version, op, record_id, data, mutation_id, by, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ).execute(arguments: [collection, Int64(change.version), change.op.rawValue, change.recordID, change.data.map { Data($0.readableBytesView) }, change.mutationID, change.by, change.at])
        if let mutationID = change.mutationID {
            try db.cachedStatement(sql: "INSERT INTO chorus_sync_mutations (collection, mutation_id, record_id, version) VALUES (?, ?, ?, ?)")
                .execute(arguments: [collection, mutationID, change.recordID, Int64(change.version)])
        }
        // Kept by count, and by age when the namespace says so (the newest change is never expired).
        var compacted = SyncRules.compaction(version: change.version, kept: limits.changesKept)
        if let expiry = SyncRules.expiry(now: change.at, limits: limits),
            let expired = try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT max(version) FROM chorus_sync_changes WHERE collection = ? AND version < ? AND at < ?"),
                arguments: [collection, Int64(change.version), expiry])
        {
            compacted = max(compacted, UInt64(expired))
        }
        try db.cachedStatement(
            sql: """
                INSERT INTO chorus_sync_collections (collection, version, compacted_through, records) VALUES (?1, ?2, ?3, max(?4, 0))
                ON CONFLICT (collection) DO UPDATE SET version = ?2, compacted_through = max(compacted_through, ?3), records = records + ?4
                """
        ).execute(arguments: [collection, Int64(change.version), Int64(compacted), change.op == .insert ? 1 : change.op == .delete ? -1 : 0])
        if compacted > 0 {
            try db.cachedStatement(sql: "DELETE FROM chorus_sync_changes WHERE collection = ? AND version <= ?").execute(arguments: [collection, Int64(compacted)])
        }
        let forgotten = SyncRules.compaction(version: change.version, kept: limits.mutationsKept)
        if forgotten > 0 {
            try db.cachedStatement(sql: "DELETE FROM chorus_sync_mutations WHERE collection = ? AND version <= ?").execute(arguments: [collection, Int64(forgotten)])
        }
    }

    /// See ``SyncStore/snapshot(of:)``.
    public func snapshot(of collection: String) async throws -> SyncSnapshot {
        try await self.pool.read { db in
            let version = try Self.position(db, collection).version
            let records = try Row.fetchAll(
                db, sql: "SELECT id, version, data, updated_at, updated_by FROM chorus_sync_records WHERE collection = ? ORDER BY id",
                arguments: [collection]
            ).map(Self.record(from:))
            return SyncSnapshot(version: version, records: records)
        }
    }

    /// See ``SyncStore/changes(of:since:)``.
    public func changes(of collection: String, since: UInt64) async throws -> (version: UInt64, changes: [SyncChange])? {
        try await self.pool.read { db in
            let (version, compacted, _) = try Self.position(db, collection)
            guard SyncRules.covers(since: since, compactedThrough: compacted, version: version) else { return nil }
            let changes = try Row.fetchAll(
                db, sql: "SELECT op, record_id, version, data, mutation_id, by, at FROM chorus_sync_changes WHERE collection = ? AND version > ? ORDER BY version",
                arguments: [collection, Int64(since)]
            ).map { row in
                let data: Data? = row[3]
                return SyncChange(
                    collection: collection, op: SyncOperation(rawValue: row[0]) ?? .update, recordID: row[1], version: UInt64(row[2] as Int64),
                    data: data.map { ByteBuffer(bytes: $0) }, mutationID: row[4], by: row[5], at: row[6])
            }
            return (version, changes)
        }
    }

    /// See ``SyncStore/record(_:in:)``.
    public func record(_ id: String, in collection: String) async throws -> SyncRecord? {
        try await self.pool.read { db in try Self.record(db, id, in: collection) }
    }

    /// A collection's version, the version its log is compacted through, and how many records it holds.
    private static func position(_ db: Database, _ collection: String) throws -> (version: UInt64, compacted: UInt64, records: Int) {
        let statement = try db.cachedStatement(sql: "SELECT version, compacted_through, records FROM chorus_sync_collections WHERE collection = ?")
        guard let row = try Row.fetchOne(statement, arguments: [collection]) else {
            return (0, 0, 0)
        }
        return (UInt64(row[0] as Int64), UInt64(row[1] as Int64), row[2])
    }

    private static func record(_ db: Database, _ id: String, in collection: String) throws -> SyncRecord? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT id, version, data, updated_at, updated_by FROM chorus_sync_records WHERE collection = ? AND id = ?"),
            arguments: [collection, id]
        ).map(Self.record(from:))
    }

    private static func record(from row: Row) -> SyncRecord {
        let data: Data = row[2]
        return SyncRecord(id: row[0], version: UInt64(row[1] as Int64), data: ByteBuffer(bytes: data), updatedAt: row[3], updatedBy: row[4])
    }
}
