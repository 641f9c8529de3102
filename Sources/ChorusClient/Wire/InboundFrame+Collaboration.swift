import ChorusCore
import NIOCore

/// Reading the presence, signalling and sync frames (docs/protocol.md "Presence", "Signalling",
/// "Sync collections") into ChorusCore's types, the ones the hub writes them from.
extension InboundFrame {
    /// `presence_state`, `presence_diff`, `presence_stats` or `signal`.
    static func presenceFrame(_ type: String, _ object: JSONObject) throws(ProtocolError) -> ServerFrame {
        switch type {
        case "signal":
            guard let from = try Self.sender(object["from"]) else { throw ProtocolError(.badRequest, "missing field 'from'") }
            return .signal(from: from, data: try object.required("data").bytes)
        case "presence_diff":
            return .presenceDiff(
                topic: try object.requiredString("topic"), joins: try Self.members(object, "joins"), leaves: try Self.members(object, "leaves"))
        case "presence_stats":
            return .presenceStats(topic: try object.requiredString("topic"), counts: try Self.counts(object, clients: "clients"))
        default:
            let next = try object.optionalString("next").map { (text) throws(ProtocolError) in
                guard let cursor = PresenceCursor(text) else { throw ProtocolError(.badRequest, "field 'next' is not a presence cursor") }
                return cursor
            }
            return .presenceState(
                topic: try object.requiredString("topic"), members: try Self.members(object, "members"), counts: try Self.counts(object, clients: "count"),
                next: next)
        }
    }

    /// `sync_snapshot` or `sync_changes`.
    static func syncFrame(_ type: String, _ object: JSONObject) throws(ProtocolError) -> ServerFrame {
        let collection = try object.requiredString("collection")
        guard let version = try object.version("version") else { throw ProtocolError(.badRequest, "missing field 'version'") }
        if type == "sync_snapshot" {
            let records = try Self.objects(object, "records").map { (record) throws(ProtocolError) in try SyncRecord(record) }
            return .syncSnapshot(collection: collection, SyncSnapshot(version: version, records: records))
        }
        let changes = try Self.objects(object, "changes").map { (change) throws(ProtocolError) in try Self.syncChange(change, collection: collection) }
        return .syncChanges(collection: collection, version: version, changes: changes)
    }

    /// One change: a `sync_change` frame, or an entry of `sync_changes` (with `at`).
    static func syncChange(_ object: JSONObject, collection: String) throws(ProtocolError) -> SyncChange {
        guard let op = SyncOperation(rawValue: try object.requiredString("op")) else {
            throw ProtocolError(.badRequest, "field 'op' must be insert, update or delete")
        }
        guard let version = try object.version("version") else { throw ProtocolError(.badRequest, "missing field 'version'") }
        let data = object["data"].flatMap { $0.isNull ? nil : $0.bytes }
        return SyncChange(
            collection: collection, op: op, recordID: try object.requiredString("record_id"), version: version, data: data,
            mutationID: try object.optionalString("mutation_id"), by: try object.optionalString("by"), at: object["at"]?.int64 ?? 0)
    }

    /// A `from` {`user`, `client`}; nil when absent or null.
    static func sender(_ value: RawJSON?) throws(ProtocolError) -> MessageSender? {
        guard let value, !value.isNull else { return nil }
        guard let fields = try? value.object() else { throw ProtocolError(.badRequest, "field 'from' must be an object") }
        return MessageSender(user: try fields.optionalString("user"), client: try fields.optionalString("client") ?? "")
    }

    private static func members(_ object: JSONObject, _ key: String) throws(ProtocolError) -> [PresenceMember] {
        try Self.objects(object, key).map { (member) throws(ProtocolError) in
            let meta = try member.required("meta")
            guard meta.kind == .object, let joinedAt = member["joined_at"]?.int64 else {
                throw ProtocolError(.badRequest, "a member needs an object 'meta' and a whole-number 'joined_at'")
            }
            return PresenceMember(client: try member.requiredString("client"), user: try member.optionalString("user"), meta: meta.bytes, joinedAt: joinedAt)
        }
    }

    private static func counts(_ object: JSONObject, clients: String) throws(ProtocolError) -> PresenceCounts {
        guard let count = object[clients]?.int64, let users = object["users"]?.int64 else {
            throw ProtocolError(.badRequest, "fields '\(clients)' and 'users' must be whole numbers")
        }
        return PresenceCounts(clients: Int(count), users: Int(users))
    }

    /// The objects of the array `key`.
    private static func objects(_ object: JSONObject, _ key: String) throws(ProtocolError) -> [JSONObject] {
        guard let elements = try object.required(key).elements else { throw ProtocolError(.badRequest, "field '\(key)' must be an array") }
        return try elements.map { (element) throws(ProtocolError) in
            guard let fields = try? element.object() else { throw ProtocolError(.badRequest, "field '\(key)' must hold objects") }
            return fields
        }
    }
}
