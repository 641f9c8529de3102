import NIOCore

/// Who sent a message, when it came from a client rather than the server API.
public struct MessageSender: Sendable, Hashable {
    public var user: String?
    public var client: String

    public init(user: String?, client: String) {
        self.user = user
        self.client = client
    }
}

/// A published message as every subscriber receives it (the `message` frame).
///
/// `data` holds the publisher's JSON bytes untouched: it is validated once on the way in and
/// never decoded or re-encoded by the hub.
public struct MessageEnvelope: Sendable {
    public var topic: String
    public var event: String
    public var data: ByteBuffer
    public var messageID: String
    public var offset: UInt64?
    public var epoch: String?
    /// Milliseconds since the Unix epoch.
    public var timestamp: Int64
    public var from: MessageSender?

    public init(
        topic: String,
        event: String,
        data: ByteBuffer,
        messageID: String,
        offset: UInt64? = nil,
        epoch: String? = nil,
        timestamp: Int64,
        from: MessageSender? = nil
    ) {
        self.topic = topic
        self.event = event
        self.data = data
        self.messageID = messageID
        self.offset = offset
        self.epoch = epoch
        self.timestamp = timestamp
        self.from = from
    }

    /// Writes the `message` frame's JSON; `sub` names the pattern that matched for pattern
    /// subscribers, so one message has one encoding per matching pattern, not per recipient.
    public func writeFrame(into buffer: inout ByteBuffer, sub: String? = nil) {
        buffer.writeStaticString(#"{"type":"message","topic":"#)
        buffer.writeJSONString(self.topic)
        buffer.writeStaticString(#","event":"#)
        buffer.writeJSONString(self.event)
        buffer.writeStaticString(#","data":"#)
        buffer.writeImmutableBuffer(self.data)
        buffer.writeStaticString(#","message_id":"#)
        buffer.writeJSONString(self.messageID)
        if let offset = self.offset {
            buffer.writeStaticString(#","offset":"#)
            buffer.writeString(String(offset))
        }
        if let epoch = self.epoch {
            buffer.writeStaticString(#","epoch":"#)
            buffer.writeJSONString(epoch)
        }
        buffer.writeStaticString(#","ts":"#)
        buffer.writeString(String(self.timestamp))
        if let from = self.from {
            buffer.writeStaticString(#","from":{"user":"#)
            if let user = from.user { buffer.writeJSONString(user) } else { buffer.writeStaticString("null") }
            buffer.writeStaticString(#","client":"#)
            buffer.writeJSONString(from.client)
            buffer.writeStaticString("}")
        }
        if let sub {
            buffer.writeStaticString(#","sub":"#)
            buffer.writeJSONString(sub)
        }
        buffer.writeStaticString("}")
    }
}
