public import NIOCore

/// Why a mutation was not applied.
public enum SyncRefusal: Error, Sendable, Equatable {
    /// The record changed since `base_version`, or an insert named an existing id: `current` is
    /// the record as it stands (nil: it no longer exists).
    case conflict(current: SyncRecord?)
    /// An update or delete of a record that does not exist, without `base_version`.
    case notFound(recordID: String)
    /// The record's data is over `maxRecordSize`.
    case recordTooLarge(size: Int, limit: Int)
    /// An insert into a collection that holds `maxRecords`.
    case collectionFull(limit: Int)
    /// A malformed mutation (no data, no record id to change).
    case invalid(String)
}

/// The rules of a mutation, without I/O: given the record as stored and the collection's
/// version and size, the change a mutation makes (the next version), or why it is refused.
/// A store runs them inside its transaction.
public enum SyncRules {
    /// The change `mutation` makes to `collection`.
    /// - Parameters:
    ///   - current: the stored record named by the mutation (nil: none, or an insert without id).
    ///   - version: the collection's version now; the change gets the next one.
    ///   - recordCount: how many records the collection holds now.
    ///   - newID: makes an id for an insert that names none.
    public static func change(
        _ mutation: SyncMutation,
        in collection: String,
        current: SyncRecord?,
        version: UInt64,
        recordCount: Int,
        limits: SyncLimits,
        by: String?,
        now: Int64,
        newID: () -> String
    ) throws(SyncRefusal) -> SyncChange {
        if let data = mutation.data, data.readableBytes > limits.maxRecordSize {
            throw .recordTooLarge(size: data.readableBytes, limit: limits.maxRecordSize)
        }
        let id: String
        switch mutation.op {
        case .insert:
            guard mutation.data != nil else { throw .invalid("'insert' needs 'data'") }
            if let current { throw .conflict(current: current) }
            guard recordCount < limits.maxRecords else { throw .collectionFull(limit: limits.maxRecords) }
            id = mutation.recordID ?? newID()
        case .update, .delete:
            guard let recordID = mutation.recordID else { throw .invalid("'\(mutation.op.rawValue)' needs 'record_id'") }
            if mutation.op == .update, mutation.data == nil { throw .invalid("'update' needs 'data'") }
            if let base = mutation.baseVersion {
                guard let current, current.version == base else { throw .conflict(current: current) }
            } else if current == nil {
                throw .notFound(recordID: recordID)
            }
            id = recordID
        }
        return SyncChange(
            collection: collection, op: mutation.op, recordID: id, version: version + 1,
            data: mutation.op == .delete ? nil : mutation.data, mutationID: mutation.mutationID, by: by, at: now)
    }

    /// The oldest `since` that `changes` can still answer: the changes after it are all kept.
    /// A `since` below it gets a snapshot instead; one above `version` is from another history.
    public static func covers(since: UInt64, compactedThrough: UInt64, version: UInt64) -> Bool {
        since >= compactedThrough && since <= version
    }

    /// The versions at and below which changes are dropped once the collection is at `version`,
    /// keeping the last `kept`.
    public static func compaction(version: UInt64, kept: Int) -> UInt64 {
        version > UInt64(kept) ? version - UInt64(kept) : 0
    }

    /// The time before which changes are dropped at `now` (milliseconds since 1970), when
    /// `limits` keeps them for a while only; nil otherwise.
    public static func expiry(now: Int64, limits: SyncLimits) -> Int64? {
        limits.changesTTL.map { now - $0 }
    }
}
