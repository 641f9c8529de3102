import NIOCore

/// The fields of sync frames and requests, with the protocol's error messages.
extension JSONObject {
    /// A collection version named by `key` (`since`, `base_version`); nil when absent or null.
    public func version(_ key: String) throws(ProtocolError) -> UInt64? {
        guard let value = self[key], !value.isNull else { return nil }
        guard value.kind == .number, let number = value.int64, number >= 0 else {
            throw ProtocolError(.badRequest, "field '\(key)' must be a version: a whole number ≥ 0")
        }
        return UInt64(number)
    }

    /// A record or mutation id named by `key`: 1 to ``SyncMutation/maxIDLength`` bytes; nil when absent.
    public func syncID(_ key: String) throws(ProtocolError) -> String? {
        guard let id = try self.optionalString(key) else { return nil }
        guard !id.isEmpty, id.utf8.count <= SyncMutation.maxIDLength else {
            throw ProtocolError(.badRequest, "field '\(key)' must be 1 to \(SyncMutation.maxIDLength) bytes long")
        }
        return id
    }

    /// The mutation of a `sync_mutate` frame.
    func syncMutation() throws(ProtocolError) -> SyncMutation {
        let name = try self.requiredString("op")
        guard let op = SyncOperation(rawValue: name) else {
            throw ProtocolError(.badRequest, "field 'op' must be insert, update or delete")
        }
        guard let mutationID = try self.syncID("mutation_id") else { throw ProtocolError(.badRequest, "missing field 'mutation_id'") }
        let recordID = try self.syncID("record_id")
        if op != .insert, recordID == nil { throw ProtocolError(.badRequest, "'\(op.rawValue)' needs 'record_id'") }
        let data = self["data"].flatMap { $0.isNull ? nil : $0 }
        if op != .delete, data == nil { throw ProtocolError(.badRequest, "'\(op.rawValue)' needs 'data'") }
        return SyncMutation(
            op: op, recordID: recordID, data: op == .delete ? nil : data.map { ByteBuffer(bytes: $0.bytes.readableBytesView) },
            baseVersion: try self.version("base_version"), mutationID: mutationID)
    }
}
