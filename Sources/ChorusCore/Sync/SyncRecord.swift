public import NIOCore

/// One record of a sync collection: its id, the collection version that last changed it, its
/// JSON `data`, and when and by whom.
public struct SyncRecord: Sendable, Equatable {
    /// The record's id, unique in its collection.
    public var id: String
    /// The collection version of the record's last change.
    public var version: UInt64
    /// The record's JSON, as the client sent it.
    public var data: ByteBuffer
    /// When it last changed, in milliseconds since 1970.
    public var updatedAt: Int64
    /// The user (or, anonymous, the client) that changed it last; nil for the server side.
    public var updatedBy: String?

    /// A record as stored.
    public init(id: String, version: UInt64, data: ByteBuffer, updatedAt: Int64, updatedBy: String?) {
        self.id = id
        self.version = version
        self.data = data
        self.updatedAt = updatedAt
        self.updatedBy = updatedBy
    }

    /// Writes `{"id":…,"version":…,"data":…,"updated_at":…,"updated_by":…}`.
    public func write(into buffer: inout ByteBuffer) {
        buffer.writeStaticString(#"{"id":"#)
        buffer.writeJSONString(self.id)
        buffer.writeStaticString(#","version":"#)
        buffer.writeString(String(self.version))
        buffer.writeStaticString(#","data":"#)
        buffer.writeImmutableBuffer(self.data)
        buffer.writeStaticString(#","updated_at":"#)
        buffer.writeString(String(self.updatedAt))
        buffer.writeStaticString(#","updated_by":"#)
        if let by = self.updatedBy { buffer.writeJSONString(by) } else { buffer.writeStaticString("null") }
        buffer.writeStaticString("}")
    }

    /// Writes a JSON array of records.
    public static func writeList(_ records: [SyncRecord], into buffer: inout ByteBuffer) {
        buffer.writeStaticString("[")
        for (index, record) in records.enumerated() {
            if index > 0 { buffer.writeStaticString(",") }
            record.write(into: &buffer)
        }
        buffer.writeStaticString("]")
    }
}

extension SyncRecord {
    /// A record as the hub writes it (``write(into:)``), read back by a client.
    public init(_ object: JSONObject) throws(ProtocolError) {
        guard let version = object["version"]?.int64, version >= 0, let updatedAt = object["updated_at"]?.int64 else {
            throw ProtocolError(.badRequest, "a record needs whole-number 'version' and 'updated_at'")
        }
        self.init(
            id: try object.requiredString("id"), version: UInt64(version), data: try object.required("data").bytes,
            updatedAt: updatedAt, updatedBy: try object.optionalString("updated_by"))
    }
}
