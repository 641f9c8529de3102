public import ChorusCore

/// What changed in a collection the client follows.
public enum CollectionUpdate: Sendable, Equatable {
    /// The hub's snapshot replaced the records (the first subscribe, or a resume too far behind
    /// for the changes the hub keeps); the records that differ from before come as changes after it.
    case snapshot(version: UInt64)
    /// One record changed.
    case change(CollectionChange)
}

/// One record's change, from the hub's change or from comparing a snapshot with the records before it.
public struct CollectionChange: Sendable, Equatable {
    /// Insert, update or delete.
    public var op: SyncOperation
    /// The record's id.
    public var id: String
    /// The collection version the change made.
    public var version: UInt64
    /// The record after the change; nil after a delete.
    public var record: SyncRecord?
    /// The record before it; nil for an insert.
    public var previous: SyncRecord?
    /// The mutation id of the writer's `sync_mutate` (nil from a snapshot or the HTTP API without one).
    public var mutationID: String?
}

/// A collection's records as the hub has them: a snapshot with its changes applied in version
/// order, each once (a change at or below the applied version is skipped). A pure value.
public struct SyncRecordMap: Sendable {
    /// The collection version applied; nil before the first snapshot.
    public private(set) var version: UInt64?
    /// The records by id.
    public private(set) var records: [String: SyncRecord] = [:]

    /// No records, no version.
    public init() {}

    /// The records ordered by id, as the hub lists them.
    public var sorted: [SyncRecord] {
        self.records.values.sorted { $0.id < $1.id }
    }

    /// A `sync_snapshot`: the records are the snapshot's. After an earlier snapshot the
    /// differences are returned as changes (nothing for the first).
    public mutating func applySnapshot(_ snapshot: SyncSnapshot) -> [CollectionUpdate] {
        let first = self.version == nil
        let previous = self.records
        self.records = Dictionary(snapshot.records.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
        self.version = snapshot.version
        var updates: [CollectionUpdate] = [.snapshot(version: snapshot.version)]
        guard !first else { return updates }
        for (id, old) in previous.sorted(by: { $0.key < $1.key }) where self.records[id] == nil {
            updates.append(.change(CollectionChange(op: .delete, id: id, version: snapshot.version, record: nil, previous: old)))
        }
        for record in snapshot.records {
            let old = previous[record.id]
            guard old?.version != record.version else { continue }
            updates.append(.change(CollectionChange(op: old == nil ? .insert : .update, id: record.id, version: record.version, record: record, previous: old)))
        }
        return updates
    }

    /// A `sync_changes` answer to a resume: its changes in order, then its version.
    public mutating func applyChanges(_ changes: [SyncChange], version: UInt64) -> [CollectionUpdate] {
        let updates = changes.compactMap { self.apply($0).map(CollectionUpdate.change) }
        self.version = max(self.version ?? version, version)
        return updates
    }

    /// One change; nil when its version was applied already.
    public mutating func apply(_ change: SyncChange) -> CollectionChange? {
        if let version = self.version, change.version <= version { return nil }
        self.version = change.version
        let previous = self.records[change.recordID]
        // A conflict's `current` may have told this record's newer version already.
        if let previous, previous.version >= change.version { return nil }
        self.records[change.recordID] = change.record
        let op: SyncOperation = change.op == .delete ? .delete : (previous == nil ? .insert : .update)
        return CollectionChange(op: op, id: change.recordID, version: change.version, record: change.record, previous: previous, mutationID: change.mutationID)
    }

    /// The record `id` as the hub has it (a conflict's `current`; nil: deleted), unless a newer
    /// version of it is applied already.
    public mutating func learn(id: String, record: SyncRecord?) {
        guard let record else {
            self.records[id] = nil
            return
        }
        if let known = self.records[id], known.version >= record.version { return }
        self.records[id] = record
    }

    /// Forgets everything (unsubscribed).
    public mutating func reset() {
        self = SyncRecordMap()
    }
}
