public import NIOCore

/// A reply or notice from the hub to one client ("Hub → client"), other than `message`, which
/// is encoded once per publish by ``MessageEnvelope``.
public enum ServerFrame: Sendable {
    /// The first frame of a v1.1 connection: the client's id, and its user when a token came
    /// with the upgrade.
    case connected(client: String, user: String?, expiresAt: Int64?)
    /// `auth_success`: the connection's client id, user and token expiry.
    case authSuccess(client: String, user: String?, expiresAt: Int64?)
    /// `subscribed`, with the topic's history position and, after a `since`, whether recovery was complete.
    case subscribed(topic: String, offset: UInt64?, epoch: String?, recovered: Bool?)
    /// `unsubscribed`.
    case unsubscribed(topic: String)
    /// `ack` of a publish: the message id and, for topics with history, offset and epoch;
    /// `dropped` when the namespace's transform dropped the message (nothing stored or delivered).
    case ack(messageID: String?, offset: UInt64?, epoch: String?, dropped: Bool = false)
    /// `pong`, echoing the `ping`'s timestamp.
    case pong(timestamp: RawJSON?)
    /// `error`: a refused request.
    case error(ProtocolError)
    /// `message` is for people; v1 sends it as the `reason`.
    case disconnect(code: CloseCode, reason: ReasonCode, message: String, reconnect: Bool)
    /// `presence_state`: a topic's members (all, or a page of them), oldest first, its counts,
    /// and where the next page starts when members remain after these.
    case presenceState(topic: String, members: [PresenceMember], counts: PresenceCounts, next: PresenceCursor? = nil)
    /// `presence_stats`: a topic's counts, without the member list.
    case presenceStats(topic: String, counts: PresenceCounts)
    /// `presence_diff`: who joined and who left a topic since the last diff (a meta update is a
    /// leave and a join of that client); apply `leaves` first.
    case presenceDiff(topic: String, joins: [PresenceMember], leaves: [PresenceMember])
    /// `signal`: WebRTC signalling `data` relayed from another connection.
    case signal(from: MessageSender, data: ByteBuffer)
    /// `sync_snapshot`: every record of a collection at one version.
    case syncSnapshot(collection: String, SyncSnapshot)
    /// `sync_changes`: the changes of a collection after the `since` asked for, up to `version`.
    case syncChanges(collection: String, version: UInt64, changes: [SyncChange])
    /// `ack` of a sync mutation: the record's id and the version the mutation made.
    case syncAck(SyncAck)
    /// `error` `conflict` with the record as it stands (`current`; null once deleted).
    case syncConflict(message: String, current: SyncRecord?)
    /// A reply to a custom frame type: `fields` is a JSON object whose members are added to
    /// the reply next to `type` and `id`.
    case custom(type: String, fields: ByteBuffer?)

    /// About how many bytes ``write(into:id:version:)`` writes, where that can be large: a
    /// buffer of that capacity is not grown (and copied) a dozen times on the way to a megabyte.
    public var sizeHint: Int {
        switch self {
        case .presenceState(_, let members, _, let next): 128 + PresenceMember.listSizeHint(members) + (next.map { 32 + $0.client.utf8.count } ?? 0)
        case .presenceDiff(_, let joins, let leaves): 128 + PresenceMember.listSizeHint(joins) + PresenceMember.listSizeHint(leaves)
        default: 128
        }
    }

    /// Writes the frame's JSON as `version` spells it, echoing the request `id` when there is one.
    public func write(into buffer: inout ByteBuffer, id: RawJSON? = nil, version: ProtocolVersion = .v1) {
        buffer.writeStaticString(#"{"type":"#)
        switch self {
        case .connected(let client, let user, let expiresAt):
            buffer.writeStaticString(#""connected","client":"#)
            buffer.writeJSONString(client)
            if let user {
                buffer.writeStaticString(#","user":"#)
                buffer.writeJSONString(user)
            }
            buffer.writeStaticString(#","protocol":"#)
            buffer.writeJSONString(version.description)
            Self.writeExpiry(expiresAt, into: &buffer)
        case .authSuccess(let client, let user, let expiresAt):
            buffer.writeStaticString(#""auth_success""#)
            Self.writeID(id, into: &buffer)
            buffer.writeStaticString(#","client":"#)
            buffer.writeJSONString(client)
            buffer.writeStaticString(#","user":"#)
            if let user { buffer.writeJSONString(user) } else { buffer.writeStaticString("null") }
            Self.writeExpiry(expiresAt, into: &buffer)
        case .subscribed(let topic, let offset, let epoch, let recovered):
            buffer.writeStaticString(#""subscribed""#)
            Self.writeID(id, into: &buffer)
            buffer.writeStaticString(#","topic":"#)
            buffer.writeJSONString(topic)
            Self.writePosition(offset: offset, epoch: epoch, into: &buffer)
            if let recovered {
                buffer.writeStaticString(recovered ? #","recovered":true"# : #","recovered":false"#)
            }
        case .unsubscribed(let topic):
            buffer.writeStaticString(#""unsubscribed""#)
            Self.writeID(id, into: &buffer)
            buffer.writeStaticString(#","topic":"#)
            buffer.writeJSONString(topic)
        case .ack(let messageID, let offset, let epoch, let dropped):
            buffer.writeStaticString(#""ack""#)
            Self.writeID(id, into: &buffer)
            if let messageID {
                buffer.writeStaticString(#","message_id":"#)
                buffer.writeJSONString(messageID)
            }
            Self.writePosition(offset: offset, epoch: epoch, into: &buffer)
            if dropped { buffer.writeStaticString(#","dropped":true"#) }
        case .pong(let timestamp):
            buffer.writeStaticString(#""pong""#)
            Self.writeID(id, into: &buffer)
            if let timestamp {
                buffer.writeStaticString(#","timestamp":"#)
                buffer.writeImmutableBuffer(timestamp.bytes)
            }
        case .error(let error):
            buffer.writeStaticString(#""error""#)
            Self.writeID(id, into: &buffer)
            buffer.writeStaticString(#","code":"#)
            buffer.writeJSONString(error.code.rawValue)
            if version != .v1, let reason = error.reason {
                buffer.writeStaticString(#","reason":"#)
                buffer.writeJSONString(reason.rawValue)
            }
            buffer.writeStaticString(#","message":"#)
            buffer.writeJSONString(error.message)
        case .disconnect(let code, let reason, let message, let reconnect):
            buffer.writeStaticString(#""disconnect","code":"#)
            buffer.writeString(String(code.rawValue))
            buffer.writeStaticString(#","reason":"#)
            if version == .v1 {
                buffer.writeJSONString(message)
            } else {
                buffer.writeJSONString(reason.rawValue)
                buffer.writeStaticString(#","message":"#)
                buffer.writeJSONString(message)
            }
            buffer.writeStaticString(reconnect ? #","reconnect":true"# : #","reconnect":false"#)
        case .presenceState(let topic, let members, let counts, let next):
            buffer.writeStaticString(#""presence_state""#)
            Self.writeID(id, into: &buffer)
            Self.writeTopic(topic, into: &buffer)
            buffer.writeStaticString(#","members":"#)
            PresenceMember.writeList(members, into: &buffer)
            buffer.writeStaticString(#","count":"#)
            buffer.writeString(String(counts.clients))
            buffer.writeStaticString(#","users":"#)
            buffer.writeString(String(counts.users))
            if let next {
                buffer.writeStaticString(#","next":"#)
                buffer.writeJSONString(next.text)
            }
        case .presenceStats(let topic, let counts):
            buffer.writeStaticString(#""presence_stats""#)
            Self.writeID(id, into: &buffer)
            Self.writeTopic(topic, into: &buffer)
            buffer.writeStaticString(#","clients":"#)
            buffer.writeString(String(counts.clients))
            buffer.writeStaticString(#","users":"#)
            buffer.writeString(String(counts.users))
        case .presenceDiff(let topic, let joins, let leaves):
            buffer.writeStaticString(#""presence_diff""#)
            Self.writeTopic(topic, into: &buffer)
            buffer.writeStaticString(#","joins":"#)
            PresenceMember.writeList(joins, into: &buffer)
            buffer.writeStaticString(#","leaves":"#)
            PresenceMember.writeList(leaves, into: &buffer)
        case .signal(let from, let data):
            buffer.writeStaticString(#""signal","from":{"user":"#)
            if let user = from.user { buffer.writeJSONString(user) } else { buffer.writeStaticString("null") }
            buffer.writeStaticString(#","client":"#)
            buffer.writeJSONString(from.client)
            buffer.writeStaticString(#"},"data":"#)
            buffer.writeImmutableBuffer(data)
        case .syncSnapshot(let collection, let snapshot):
            buffer.writeStaticString(#""sync_snapshot""#)
            Self.writeID(id, into: &buffer)
            Self.writeCollection(collection, version: snapshot.version, into: &buffer)
            buffer.writeStaticString(#","records":"#)
            SyncRecord.writeList(snapshot.records, into: &buffer)
        case .syncChanges(let collection, let version, let changes):
            buffer.writeStaticString(#""sync_changes""#)
            Self.writeID(id, into: &buffer)
            Self.writeCollection(collection, version: version, into: &buffer)
            buffer.writeStaticString(#","changes":"#)
            SyncChange.writeList(changes, into: &buffer)
        case .syncAck(let ack):
            buffer.writeStaticString(#""ack""#)
            Self.writeID(id, into: &buffer)
            buffer.writeStaticString(#","record_id":"#)
            buffer.writeJSONString(ack.recordID)
            buffer.writeStaticString(#","version":"#)
            buffer.writeString(String(ack.version))
            buffer.writeStaticString(#","mutation_id":"#)
            buffer.writeJSONString(ack.mutationID)
        case .syncConflict(let message, let current):
            buffer.writeStaticString(#""error""#)
            Self.writeID(id, into: &buffer)
            buffer.writeStaticString(#","code":"conflict","message":"#)
            buffer.writeJSONString(message)
            buffer.writeStaticString(#","current":"#)
            if let current { current.write(into: &buffer) } else { buffer.writeStaticString("null") }
        case .custom(let type, let fields):
            buffer.writeJSONString(type)
            Self.writeID(id, into: &buffer)
            if let fields {
                Self.writeMembers(of: fields, into: &buffer)
            }
        }
        buffer.writeStaticString("}")
    }

    private static func writeID(_ id: RawJSON?, into buffer: inout ByteBuffer) {
        guard let id else { return }
        buffer.writeStaticString(#","id":"#)
        buffer.writeImmutableBuffer(id.bytes)
    }

    private static func writeTopic(_ topic: String, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(#","topic":"#)
        buffer.writeJSONString(topic)
    }

    private static func writeCollection(_ collection: String, version: UInt64, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(#","collection":"#)
        buffer.writeJSONString(collection)
        buffer.writeStaticString(#","version":"#)
        buffer.writeString(String(version))
    }

    private static func writeExpiry(_ expiresAt: Int64?, into buffer: inout ByteBuffer) {
        guard let expiresAt else { return }
        buffer.writeStaticString(#","expires_at":"#)
        buffer.writeString(String(expiresAt))
    }

    private static func writePosition(offset: UInt64?, epoch: String?, into buffer: inout ByteBuffer) {
        if let offset {
            buffer.writeStaticString(#","offset":"#)
            buffer.writeString(String(offset))
        }
        if let epoch {
            buffer.writeStaticString(#","epoch":"#)
            buffer.writeJSONString(epoch)
        }
    }

    /// Appends the members of a JSON object (`{"a":1}` → `,"a":1`); an empty object adds nothing.
    private static func writeMembers(of object: ByteBuffer, into buffer: inout ByteBuffer) {
        var members = object
        members.trimJSONWhitespace()
        guard members.readableBytes > 2 else { return }
        members.moveReaderIndex(forwardBy: 1)
        members.moveWriterIndex(to: members.writerIndex - 1)
        members.trimJSONWhitespace()
        guard members.readableBytes > 0 else { return }
        buffer.writeStaticString(",")
        buffer.writeImmutableBuffer(members)
    }
}

extension ByteBuffer {
    mutating func trimJSONWhitespace() {
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }
        while let first = self.getInteger(at: self.readerIndex, as: UInt8.self), isSpace(first) {
            self.moveReaderIndex(forwardBy: 1)
        }
        while self.readableBytes > 0, let last = self.getInteger(at: self.writerIndex - 1, as: UInt8.self), isSpace(last) {
            self.moveWriterIndex(to: self.writerIndex - 1)
        }
    }
}
