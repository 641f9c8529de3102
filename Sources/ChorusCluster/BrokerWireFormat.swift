public import ChorusCore
public import NIOCore

/// How a ``BrokerMessage`` travels through Redis pub/sub: a run of length-prefixed fields
/// (`<decimal length>:<bytes>`), binary-safe, cheap to write and to read, and easy to build
/// in Lua (the history script puts the offset, epoch and sequence it assigns in front of the
/// rest, which the publishing node encodes).
///
/// Fields, in order: offset, epoch, store sequence (these three empty for an ephemeral
/// message), origin node id, excluded connection, target kind (`t` topic, `u` user, `d`
/// disconnect), target name (topic or user), the envelope's topic when it is not the target's
/// (`direct`), disconnect reason, reconnect (`1`/`0`), event, message id,
/// timestamp, sender (`` none, `a` anonymous, `u` user), sender user, sender client, data,
/// then the time the origin sent it (µs since 1970, for the hop's latency metric).
/// The data field is the publisher's JSON untouched (a binary message's bytes after a 0 byte, ``MessageEnvelope/storedData``), read back as a slice (no copy). Every node
/// of a cluster must run the same format (no version field: nodes are upgraded together).
public enum BrokerWireFormat {
    /// A message read off the wire, and the node that published it.
    public struct Decoded: Sendable {
        /// The message; its excluded connection kept only when this node is its origin.
        public var message: BrokerMessage
        /// The id of the node that published it.
        public var origin: String
        /// When the origin sent it, in µs since 1970 by its clock.
        public var sentAt: Int64
    }

    /// The part of `message` its publishing node writes (everything after the offset, epoch
    /// and sequence), with `origin`, the publishing node's id.
    public static func body(of message: BrokerMessage, origin: String) -> ByteBuffer {
        let envelope = message.envelope
        var buffer = ByteBufferAllocator().buffer(capacity: envelope.data.readableBytes + envelope.topic.utf8.count + origin.utf8.count + 96)
        Self.write(origin, into: &buffer)
        Self.write(message.excludedConnection.map { String($0) } ?? "", into: &buffer)
        switch message.target {
        case .topic(let topic):
            Self.write("t", into: &buffer)
            Self.write(topic.name, into: &buffer)
            Self.write(envelope.topic == topic.name ? "" : envelope.topic, into: &buffer)
            Self.write("", into: &buffer)
            Self.write("", into: &buffer)
        case .user(let user):
            Self.write("u", into: &buffer)
            Self.write(user, into: &buffer)
            Self.write(envelope.topic, into: &buffer)
            Self.write("", into: &buffer)
            Self.write("", into: &buffer)
        case .disconnect(let user, let reason, let reconnect):
            Self.write("d", into: &buffer)
            Self.write(user, into: &buffer)
            Self.write(envelope.topic, into: &buffer)
            Self.write(reason, into: &buffer)
            Self.write(reconnect ? "1" : "0", into: &buffer)
        }
        Self.write(envelope.event, into: &buffer)
        Self.write(envelope.messageID, into: &buffer)
        Self.write(String(envelope.timestamp), into: &buffer)
        switch envelope.from {
        case nil:
            Self.write("", into: &buffer)
            Self.write("", into: &buffer)
            Self.write("", into: &buffer)
        case .some(let sender):
            Self.write(sender.user == nil ? "a" : "u", into: &buffer)
            Self.write(sender.user ?? "", into: &buffer)
            Self.write(sender.client, into: &buffer)
        }
        Self.write(envelope.storedData, into: &buffer)
        Self.write(String(WallClock.microseconds()), into: &buffer)
        return buffer
    }

    /// The whole payload of `message`: with the offset, epoch and sequence it has (none for an
    /// ephemeral message; a store that does not publish as it commits set them).
    public static func payload(of message: BrokerMessage, origin: String) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 48)
        Self.write(message.envelope.offset.map { String($0) } ?? "", into: &buffer)
        Self.write(message.envelope.epoch ?? "", into: &buffer)
        Self.write(message.storeSequence.map { String($0) } ?? "", into: &buffer)
        var body = Self.body(of: message, origin: origin)
        buffer.writeBuffer(&body)
        return buffer
    }

    /// Reads a payload; `node` is the reading node's id (a connection to leave out is one of
    /// the origin's only). Nil for bytes that are not a message this format wrote.
    public static func decode(_ payload: ByteBuffer, node: String) -> Decoded? {
        var reader = payload
        guard
            let offset = Self.field(&reader).map(String.init(buffer:)),
            let epoch = Self.field(&reader).map(String.init(buffer:)),
            let sequence = Self.field(&reader).map(String.init(buffer:)),
            let origin = Self.field(&reader).map(String.init(buffer:)),
            let excluded = Self.field(&reader).map(String.init(buffer:)),
            let kind = Self.field(&reader).map(String.init(buffer:)),
            let name = Self.field(&reader).map(String.init(buffer:)),
            let topic = Self.field(&reader).map(String.init(buffer:)),
            let reason = Self.field(&reader).map(String.init(buffer:)),
            let reconnect = Self.field(&reader).map(String.init(buffer:)),
            let event = Self.field(&reader).map(String.init(buffer:)),
            let messageID = Self.field(&reader).map(String.init(buffer:)),
            let timestamp = Self.field(&reader).flatMap({ Int64(String(buffer: $0)) }),
            let sender = Self.field(&reader).map(String.init(buffer:)),
            let senderUser = Self.field(&reader).map(String.init(buffer:)),
            let senderClient = Self.field(&reader).map(String.init(buffer:)),
            let data = Self.field(&reader),
            let sentAt = Self.field(&reader).flatMap({ Int64(String(buffer: $0)) }),
            reader.readableBytes == 0
        else { return nil }
        let target: BrokerMessage.Target
        switch kind {
        case "t":
            guard let topic = try? Topic(name) else { return nil }
            target = .topic(topic)
        case "u": target = .user(name)
        case "d": target = .disconnect(user: name, reason: reason, reconnect: reconnect == "1")
        default: return nil
        }
        let from: MessageSender? =
            switch sender {
            case "a": MessageSender(user: nil, client: senderClient)
            case "u": MessageSender(user: senderUser, client: senderClient)
            default: nil
            }
        var envelope = MessageEnvelope(
            topic: topic.isEmpty ? name : topic, event: event, data: data, messageID: messageID, offset: UInt64(offset), epoch: epoch.isEmpty ? nil : epoch,
            timestamp: timestamp, from: from
        )
        envelope.setStoredData(data)
        let message = BrokerMessage(
            envelope: envelope, target: target, storeSequence: UInt64(sequence), excludedConnection: origin == node ? UInt64(excluded) : nil
        )
        return Decoded(message: message, origin: origin, sentAt: sentAt)
    }

    /// Writes `text` as one `<length>:<bytes>` field (the presence wire format writes its own with it).
    static func write(_ text: String, into buffer: inout ByteBuffer) {
        buffer.writeString(String(text.utf8.count))
        buffer.writeInteger(UInt8(ascii: ":"))
        buffer.writeString(text)
    }

    /// Writes `bytes` as one field.
    static func write(_ bytes: ByteBuffer, into buffer: inout ByteBuffer) {
        buffer.writeString(String(bytes.readableBytes))
        buffer.writeInteger(UInt8(ascii: ":"))
        buffer.writeImmutableBuffer(bytes)
    }

    /// The next `<length>:<bytes>` field, consumed; nil when malformed or cut short.
    static func field(_ buffer: inout ByteBuffer) -> ByteBuffer? {
        var length = 0
        var digits = 0
        while let byte = buffer.readInteger(as: UInt8.self) {
            if byte == UInt8(ascii: ":") {
                guard digits > 0 else { return nil }
                return buffer.readSlice(length: length)
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), digits < 10 else { return nil }
            length = length * 10 + Int(byte - UInt8(ascii: "0"))
            digits += 1
        }
        return nil
    }
}
