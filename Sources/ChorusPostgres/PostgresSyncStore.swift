public import ChorusCore
import Foundation
public import Logging
import NIOConcurrencyHelpers
import NIOCore
public import PostgresNIO

/// Sync collections shared by a cluster's nodes (migration 3, `sync`).
///
/// A mutation is one transaction that first locks its collection's row (`FOR UPDATE`), so
/// writers on different nodes take versions one after another, each the previous plus one, and
/// versions follow commit order; the rules (``SyncRules``) run on the record as committed, as
/// on SQLite. The transaction announces its change with `pg_notify` on ``channel``: PostgreSQL
/// delivers it only if the transaction commits, and in commit order, to every node's
/// ``PostgresSyncListener``.
public final class PostgresSyncStore: SyncStore {
    /// The channel every committed change is announced on (``SyncNotice``).
    public static let channel = "chorus_sync"

    private let client: PostgresClient
    private let logger: Logger
    private let timeout: Duration
    private let handler = NIOLockedValueBox<(@Sendable (SyncChange) -> Void)?>(nil)

    /// A store on `client` (``PostgresService/client``, migrated); a call that takes longer
    /// than `timeout` fails with a ``StoreError``.
    public init(client: PostgresClient, timeout: Duration = .seconds(10), logger: Logger = Logger(label: "chorus.sync")) {
        self.client = client
        self.timeout = timeout
        self.logger = logger
    }

    /// See ``SyncStore/onCommit(_:)``. Called after this node's commits; two commits of one
    /// collection racing on this node may be handed on out of order, and other nodes' changes
    /// arrive by NOTIFY: ``SyncOrder`` puts all of them in version order.
    public func onCommit(_ handler: @escaping @Sendable (SyncChange) -> Void) {
        self.handler.withLockedValue { $0 = handler }
    }

    /// See ``SyncStore/mutate(_:in:limits:by:)``.
    public func mutate(_ mutation: SyncMutation, in collection: String, limits: SyncLimits, by: String?) async throws -> SyncAck {
        // A refusal commits nothing but the collection's row (at version 0 when new).
        let (ack, change) = try await self.bounded {
            try await self.client.withTransaction(logger: self.logger) { connection -> Result<(SyncAck, SyncChange?), SyncRefusal> in
                do {
                    return .success(try await Self.apply(mutation, in: collection, limits: limits, by: by, connection, self.logger))
                } catch let refusal as SyncRefusal {
                    return .failure(refusal)
                }
            }
        }.get()
        if let change { self.handler.withLockedValue { $0 }?(change) }
        return ack
    }

    /// One mutation in its transaction, in three statements (the collection's lock is held
    /// for each round trip, so they are few): the collection's row locked; then, read after
    /// the lock (a statement's snapshot is taken when it starts), the remembered answer of its
    /// mutation id and the record; then the change the rules make, written and announced.
    private static func apply(
        _ mutation: SyncMutation, in collection: String, limits: SyncLimits, by: String?, _ connection: PostgresConnection, _ logger: Logger
    ) async throws -> (SyncAck, SyncChange?) {
        // An upsert that changes nothing locks the row, new or not, and returns it as committed.
        var position: (version: Int64, records: Int64) = (0, 0)
        for try await row in try await connection.query(
            """
            INSERT INTO chorus_sync_collections (collection, version, compacted_through, records) VALUES (\(collection), 0, 0, 0)
            ON CONFLICT (collection) DO UPDATE SET version = chorus_sync_collections.version RETURNING version, records
            """, logger: logger
        ).decode((Int64, Int64).self) {
            position = row
        }
        // Checked under the lock: the same id retried on two nodes at once is applied once.
        var current: SyncRecord?
        for try await row in try await connection.query(
            """
            SELECT m.record_id, m.version, r.id, r.version, r.data, r.updated_at, r.updated_by
            FROM (SELECT 1) AS one
            LEFT JOIN chorus_sync_mutations m ON m.collection = \(collection) AND m.mutation_id = \(mutation.mutationID)
            LEFT JOIN chorus_sync_records r ON r.collection = \(collection) AND r.id = \(mutation.recordID)
            """, logger: logger
        ).decode((String?, Int64?, String?, Int64?, ByteBuffer?, Int64?, String?).self) {
            if let recordID = row.0, let version = row.1 {
                return (SyncAck(recordID: recordID, version: UInt64(version), mutationID: mutation.mutationID, record: nil), nil)
            }
            if let id = row.2, let version = row.3, let data = row.4, let updatedAt = row.5 {
                current = SyncRecord(id: id, version: UInt64(version), data: data, updatedAt: updatedAt, updatedBy: row.6)
            }
        }
        let change = try SyncRules.change(
            mutation, in: collection, current: current, version: UInt64(position.version), recordCount: Int(position.records), limits: limits,
            by: by, now: WallClock.milliseconds(), newID: { UUID().uuidString.lowercased() })
        try await Self.write(change, limits: limits, connection, logger)
        return (SyncAck(recordID: change.recordID, version: change.version, mutationID: mutation.mutationID, record: change.record), change)
    }

    /// Writes an applied change in one statement: the record, the log, the version, the
    /// mutation id; drops the changes and mutation ids past what is kept; announces it.
    /// (Every part runs to completion, referenced or not; none reads what another writes.)
    private static func write(_ change: SyncChange, limits: SyncLimits, _ connection: PostgresConnection, _ logger: Logger) async throws {
        let collection = change.collection
        let version = Int64(change.version)
        let data = change.data.map { ByteBuffer($0.readableBytesView) }
        // Kept by count, and by age when the namespace says so (the newest change is never expired).
        let kept = Int64(SyncRules.compaction(version: change.version, kept: limits.changesKept))
        let expiry = SyncRules.expiry(now: change.at, limits: limits)
        let forgotten = Int64(SyncRules.compaction(version: change.version, kept: limits.mutationsKept))
        let delta: Int64 = change.op == .insert ? 1 : change.op == .delete ? -1 : 0
        try await connection.query(
            """
            WITH upserted AS (
                INSERT INTO chorus_sync_records (collection, id, version, data, updated_at, updated_by)
                SELECT \(collection), \(change.recordID), \(version), \(data)::bytea, \(change.at), \(change.by) WHERE \(data)::bytea IS NOT NULL
                ON CONFLICT (collection, id) DO UPDATE SET version = excluded.version, data = excluded.data,
                    updated_at = excluded.updated_at, updated_by = excluded.updated_by),
            deleted AS (
                DELETE FROM chorus_sync_records WHERE \(data)::bytea IS NULL AND collection = \(collection) AND id = \(change.recordID)),
            logged AS (
                INSERT INTO chorus_sync_changes (collection, version, op, record_id, data, mutation_id, by, at)
                VALUES (\(collection), \(version), \(change.op.rawValue), \(change.recordID), \(data)::bytea, \(change.mutationID), \(change.by), \(change.at))),
            remembered AS (
                INSERT INTO chorus_sync_mutations (collection, mutation_id, record_id, version)
                SELECT \(collection), \(change.mutationID)::text, \(change.recordID), \(version) WHERE \(change.mutationID)::text IS NOT NULL),
            forgotten AS (
                DELETE FROM chorus_sync_mutations WHERE collection = \(collection) AND version <= \(forgotten)),
            expired AS (
                SELECT coalesce(max(version), 0) AS version FROM chorus_sync_changes
                WHERE collection = \(collection) AND version < \(version) AND \(expiry)::bigint IS NOT NULL AND at < \(expiry)),
            moved AS (
                UPDATE chorus_sync_collections SET version = \(version), records = records + \(delta),
                    compacted_through = greatest(compacted_through, \(kept), (SELECT version FROM expired))
                WHERE collection = \(collection) RETURNING compacted_through),
            compacted AS (
                DELETE FROM chorus_sync_changes WHERE collection = \(collection) AND version <= (SELECT compacted_through FROM moved))
            SELECT pg_notify(\(Self.channel), \(SyncNotice.payload(of: change)))
            """, logger: logger)
    }

    /// See ``SyncStore/snapshot(of:)``. One statement: the version and the records are read
    /// at one commit.
    public func snapshot(of collection: String) async throws -> SyncSnapshot {
        try await self.bounded {
            let rows = try await self.client.query(
                """
                SELECT c.version, r.id, r.version, r.data, r.updated_at, r.updated_by
                FROM (SELECT \(collection)::text AS collection) AS k
                LEFT JOIN chorus_sync_collections c ON c.collection = k.collection
                LEFT JOIN chorus_sync_records r ON r.collection = k.collection
                ORDER BY r.id
                """, logger: self.logger)
            var snapshot = SyncSnapshot(version: 0, records: [])
            for try await (version, id, recordVersion, data, updatedAt, updatedBy) in rows.decode(
                (Int64?, String?, Int64?, ByteBuffer?, Int64?, String?).self)
            {
                snapshot.version = UInt64(version ?? 0)
                guard let id, let recordVersion, let data, let updatedAt else { continue }
                snapshot.records.append(SyncRecord(id: id, version: UInt64(recordVersion), data: data, updatedAt: updatedAt, updatedBy: updatedBy))
            }
            return snapshot
        }
    }

    /// See ``SyncStore/changes(of:since:)``. One statement: the position and the changes are
    /// read at one commit.
    public func changes(of collection: String, since: UInt64) async throws -> (version: UInt64, changes: [SyncChange])? {
        try await self.bounded {
            let rows = try await self.client.query(
                """
                SELECT c.version, c.compacted_through, l.op, l.record_id, l.version, l.data, l.mutation_id, l.by, l.at
                FROM (SELECT \(collection)::text AS collection) AS k
                LEFT JOIN chorus_sync_collections c ON c.collection = k.collection
                LEFT JOIN chorus_sync_changes l ON l.collection = k.collection AND l.version > \(Int64(clamping: since))
                ORDER BY l.version
                """, logger: self.logger)
            var position: (version: UInt64, compacted: UInt64) = (0, 0)
            var changes: [SyncChange] = []
            for try await row in rows {
                let columns = row.makeRandomAccess()
                position = (UInt64(try columns[0].decode(Int64?.self) ?? 0), UInt64(try columns[1].decode(Int64?.self) ?? 0))
                guard let op = try columns[2].decode(String?.self) else { continue }
                changes.append(
                    SyncChange(
                        collection: collection, op: SyncOperation(rawValue: op) ?? .update, recordID: try columns[3].decode(String.self),
                        version: UInt64(try columns[4].decode(Int64.self)), data: try columns[5].decode(ByteBuffer?.self),
                        mutationID: try columns[6].decode(String?.self), by: try columns[7].decode(String?.self), at: try columns[8].decode(Int64.self)))
            }
            guard SyncRules.covers(since: since, compactedThrough: position.compacted, version: position.version) else { return nil }
            return (position.version, changes)
        }
    }

    /// See ``SyncStore/record(_:in:)``.
    public func record(_ id: String, in collection: String) async throws -> SyncRecord? {
        try await self.bounded {
            let rows = try await self.client.query(
                "SELECT version, data, updated_at, updated_by FROM chorus_sync_records WHERE collection = \(collection) AND id = \(id)",
                logger: self.logger)
            for try await (version, data, updatedAt, updatedBy) in rows.decode((Int64, ByteBuffer, Int64, String?).self) {
                return SyncRecord(id: id, version: UInt64(version), data: data, updatedAt: updatedAt, updatedBy: updatedBy)
            }
            return nil
        }
    }

    /// Every call is bounded, as the event store's are (docs/architecture.md, "ChorusPostgres"):
    /// a mutation that times out may still commit; its retry with the same mutation id is then
    /// answered from memory.
    private func bounded<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws(StoreError) -> T {
        do {
            return try await PostgresUnavailable.withTimeout(self.timeout, "PostgreSQL (sync store)", body)
        } catch {
            throw StoreError.postgres(error, in: "sync store")
        }
    }
}
