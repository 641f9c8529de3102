public import ChorusCore
public import ChorusRedis
public import NIOCore

/// A presence member as the cluster keeps it in Redis: the member and the node holding its connection.
public struct RedisPresenceRecord: Sendable, Hashable {
    /// The id of the node whose connection the member is.
    public var node: String
    /// The member.
    public var member: PresenceMember

    /// `member`, a connection of node `node`.
    public init(node: String, member: PresenceMember) {
        self.node = node
        self.member = member
    }
}

/// How presence travels through Redis, in ``BrokerWireFormat``'s `<length>:<bytes>` fields
/// (binary-safe, and easy to take apart and rebuild in Lua).
///
/// - A **member value** (the field of the topic's hash, keyed by client) is six fields: node,
///   client, user kind (`u` a user, `a` anonymous), user, `joined_at`, meta. The meta comes last,
///   so a script updating it keeps the first five fields and appends the new meta field.
/// - An **announcement** (published by the scripts on the namespace's presence channel) is a kind
///   (`j` joined, `u` updated, `l` left), the topic, then one member value (two for an update: the
///   old, then the new).
/// - A **relayed signal** (on the target node's signal channel) is the target client, then the
///   complete WebSocket frame to write to it.
public enum RedisPresenceWireFormat {
    /// A change of a topic's members, as another node (or this one) announced it.
    public enum Announcement: Sendable, Equatable {
        /// A member joined.
        case joined(RedisPresenceRecord)
        /// A member changed its meta.
        case updated(old: RedisPresenceRecord, new: RedisPresenceRecord)
        /// A member left (by itself, or swept with its dead node).
        case left(RedisPresenceRecord)
    }

    /// The hash value of `member`, a connection of node `node`.
    public static func value(of member: PresenceMember, node: String) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: member.meta.readableBytes + node.utf8.count + member.client.utf8.count + 48)
        BrokerWireFormat.write(node, into: &buffer)
        BrokerWireFormat.write(member.client, into: &buffer)
        BrokerWireFormat.write(member.user == nil ? "a" : "u", into: &buffer)
        BrokerWireFormat.write(member.user ?? "", into: &buffer)
        BrokerWireFormat.write(String(member.joinedAt), into: &buffer)
        BrokerWireFormat.write(member.meta, into: &buffer)
        return buffer
    }

    /// `meta` as the last field of a member value (what an update appends).
    public static func metaField(_ meta: ByteBuffer) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: meta.readableBytes + 8)
        BrokerWireFormat.write(meta, into: &buffer)
        return buffer
    }

    /// Reads one member value off the front of `buffer`; nil when malformed.
    public static func record(_ buffer: inout ByteBuffer) -> RedisPresenceRecord? {
        guard let node = BrokerWireFormat.field(&buffer).map(String.init(buffer:)),
            let client = BrokerWireFormat.field(&buffer).map(String.init(buffer:)),
            let kind = BrokerWireFormat.field(&buffer).map(String.init(buffer:)), kind == "u" || kind == "a",
            let user = BrokerWireFormat.field(&buffer).map(String.init(buffer:)),
            let joinedAt = BrokerWireFormat.field(&buffer).flatMap({ Int64(String(buffer: $0)) }),
            let meta = BrokerWireFormat.field(&buffer)
        else { return nil }
        return RedisPresenceRecord(node: node, member: PresenceMember(client: client, user: kind == "u" ? user : nil, meta: meta, joinedAt: joinedAt))
    }

    /// Reads a whole member value; nil when malformed or followed by anything.
    public static func record(_ value: ByteBuffer) -> RedisPresenceRecord? {
        var buffer = value
        guard let record = Self.record(&buffer), buffer.readableBytes == 0 else { return nil }
        return record
    }

    /// Reads an announcement: its topic and the change; nil when malformed.
    public static func announcement(_ payload: ByteBuffer) -> (topic: Topic, change: Announcement)? {
        var buffer = payload
        guard let kind = BrokerWireFormat.field(&buffer).map(String.init(buffer:)),
            let topic = BrokerWireFormat.field(&buffer).flatMap({ try? Topic(String(buffer: $0)) }),
            let first = Self.record(&buffer)
        else { return nil }
        let change: Announcement
        switch kind {
        case "j": change = .joined(first)
        case "l": change = .left(first)
        case "u":
            guard let second = Self.record(&buffer) else { return nil }
            change = .updated(old: first, new: second)
        default: return nil
        }
        return buffer.readableBytes == 0 ? (topic, change) : nil
    }

    /// The members in a script's or `HVALS`'s array of member values; nil when one is malformed.
    public static func records(_ reply: RESPValue) -> [RedisPresenceRecord]? {
        guard let values = reply.array else { return nil }
        var records: [RedisPresenceRecord] = []
        records.reserveCapacity(values.count)
        for value in values {
            guard let buffer = value.buffer, let record = Self.record(buffer) else { return nil }
            records.append(record)
        }
        return records
    }

    /// A page of a topic's members as the page script answers it: the topic's counts, whether
    /// members remain after the page, and the page's members; nil when malformed.
    public static func page(_ reply: RESPValue) -> (counts: PresenceCounts, more: Bool, records: [RedisPresenceRecord])? {
        guard let values = reply.array, values.count >= 3, let clients = values[0].int, let users = values[1].int, let more = values[2].int,
            let records = Self.records(.array(Array(values.dropFirst(3))))
        else { return nil }
        return (PresenceCounts(clients: clients, users: users), more == 1, records)
    }

    /// A signal for `client` on its node: the client, then `frame`.
    public static func signal(_ frame: ByteBuffer, to client: String) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: frame.readableBytes + client.utf8.count + 8)
        BrokerWireFormat.write(client, into: &buffer)
        buffer.writeImmutableBuffer(frame)
        return buffer
    }

    /// Reads a relayed signal: the target client and the frame (a slice); nil when malformed.
    public static func signal(_ payload: ByteBuffer) -> (client: String, frame: ByteBuffer)? {
        var buffer = payload
        guard let client = BrokerWireFormat.field(&buffer).map(String.init(buffer:)), buffer.readableBytes > 0 else { return nil }
        return (client, buffer)
    }

    /// The entry of the node's set of members: the topic as a field, then the client.
    public static func nodeEntry(topic: Topic, client: String) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: topic.name.utf8.count + client.utf8.count + 8)
        BrokerWireFormat.write(topic.name, into: &buffer)
        buffer.writeString(client)
        return buffer
    }
}
