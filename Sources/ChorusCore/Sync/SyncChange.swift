public import NIOCore

/// One change of a collection: the version it made and what it did to which record. Kept in the
/// collection's change log (for resume) and sent to every subscriber as `sync_change`.
public struct SyncChange: Sendable, Equatable {
    /// The collection (a topic name).
    public var collection: String
    /// What it did: insert, update or delete.
    public var op: SyncOperation
    /// The record it changed.
    public var recordID: String
    /// The collection's version after this change: the previous one plus one.
    public var version: UInt64
    /// The record's data after the change; nil for a delete.
    public var data: ByteBuffer?
    /// The mutation id the writer gave, echoed so it recognises its own change.
    public var mutationID: String?
    /// Who made it (user, or the client when anonymous); nil for the server side.
    public var by: String?
    /// When, in milliseconds since 1970.
    public var at: Int64

    /// A change as made or stored.
    public init(collection: String, op: SyncOperation, recordID: String, version: UInt64, data: ByteBuffer?, mutationID: String?, by: String?, at: Int64) {
        self.collection = collection
        self.op = op
        self.recordID = recordID
        self.version = version
        self.data = data
        self.mutationID = mutationID
        self.by = by
        self.at = at
    }

    /// The record as it stands after the change; nil after a delete.
    public var record: SyncRecord? {
        self.data.map { SyncRecord(id: self.recordID, version: self.version, data: $0, updatedAt: self.at, updatedBy: self.by) }
    }

    /// Writes the change's members after an opening `{` that already holds others:
    /// `,"op":…,"record_id":…,"version":…[,"data":…][,"mutation_id":…][,"by":…]`.
    func writeMembers(into buffer: inout ByteBuffer) {
        buffer.writeStaticString(#","op":"#)
        buffer.writeJSONString(self.op.rawValue)
        buffer.writeStaticString(#","record_id":"#)
        buffer.writeJSONString(self.recordID)
        buffer.writeStaticString(#","version":"#)
        buffer.writeString(String(self.version))
        if let data = self.data {
            buffer.writeStaticString(#","data":"#)
            buffer.writeImmutableBuffer(data)
        }
        if let mutationID = self.mutationID {
            buffer.writeStaticString(#","mutation_id":"#)
            buffer.writeJSONString(mutationID)
        }
        if let by = self.by {
            buffer.writeStaticString(#","by":"#)
            buffer.writeJSONString(by)
        }
    }

    /// Writes the `sync_change` frame of this change (encoded once for every subscriber).
    public func writeFrame(into buffer: inout ByteBuffer) {
        buffer.writeStaticString(#"{"type":"sync_change","collection":"#)
        buffer.writeJSONString(self.collection)
        self.writeMembers(into: &buffer)
        buffer.writeStaticString("}")
    }

    /// Writes a JSON array of changes, each without `type` and `collection` (`sync_changes`).
    static func writeList(_ changes: [SyncChange], into buffer: inout ByteBuffer) {
        buffer.writeStaticString("[")
        for (index, change) in changes.enumerated() {
            buffer.writeStaticString(index > 0 ? #",{"at":"# : #"{"at":"#)
            buffer.writeString(String(change.at))
            change.writeMembers(into: &buffer)
            buffer.writeStaticString("}")
        }
        buffer.writeStaticString("]")
    }
}

/// The answer to an applied mutation (`ack` {record_id, version, mutation_id}).
public struct SyncAck: Sendable, Equatable {
    /// The record the mutation changed (the hub's id for an insert without one).
    public var recordID: String
    /// The collection's version the mutation made.
    public var version: UInt64
    /// The client's id of the mutation, echoed.
    public var mutationID: String
    /// The record after the mutation (nil after a delete, or for a retry answered from memory).
    public var record: SyncRecord?

    /// An answer.
    public init(recordID: String, version: UInt64, mutationID: String, record: SyncRecord?) {
        self.recordID = recordID
        self.version = version
        self.mutationID = mutationID
        self.record = record
    }
}
