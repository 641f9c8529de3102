public import NIOCore

/// What a mutation does to a record.
public enum SyncOperation: String, Sendable, CaseIterable {
    /// A new record; `conflict` when its id exists.
    case insert
    /// A change of an existing record's data.
    case update
    /// The record's removal.
    case delete
}

/// A client's (or the HTTP API's) change to one record of a collection (`sync_mutate`).
public struct SyncMutation: Sendable {
    /// Insert, update or delete.
    public var op: SyncOperation
    /// The record; nil only on insert, where the hub assigns one.
    public var recordID: String?
    /// The record's new JSON (insert and update).
    public var data: ByteBuffer?
    /// The version the client last saw: a record changed since is a `conflict`. Nil: last write wins.
    public var baseVersion: UInt64?
    /// The client's id for this mutation: a retry with the same id is answered with the first
    /// result, not applied again.
    public var mutationID: String

    /// The longest record id and mutation id, in bytes: both are kept per record and change.
    public static let maxIDLength = 128

    /// A mutation, as decoded from `sync_mutate` or an HTTP request.
    public init(op: SyncOperation, recordID: String?, data: ByteBuffer?, baseVersion: UInt64?, mutationID: String) {
        self.op = op
        self.recordID = recordID
        self.data = data
        self.baseVersion = baseVersion
        self.mutationID = mutationID
    }
}

/// The limits of one collection, from its namespace's options.
public struct SyncLimits: Sendable, Equatable {
    /// The most records the collection holds; an insert past it is refused.
    public var maxRecords: Int
    /// The largest record `data`, in bytes of JSON.
    public var maxRecordSize: Int
    /// How many changes are kept for resuming (`sync_subscribe` with `since`); older ones are
    /// dropped, and the snapshot covers them.
    public var changesKept: Int
    /// How many mutation ids are remembered for retries (the most recent ones).
    public var mutationsKept: Int
    /// How long a change is kept for resuming, in milliseconds; nil: as long as `changesKept` allows.
    public var changesTTL: Int64?

    /// Limits as configured.
    public init(maxRecords: Int, maxRecordSize: Int, changesKept: Int, mutationsKept: Int, changesTTL: Int64? = nil) {
        self.maxRecords = maxRecords
        self.maxRecordSize = maxRecordSize
        self.changesKept = changesKept
        self.mutationsKept = mutationsKept
        self.changesTTL = changesTTL
    }
}
