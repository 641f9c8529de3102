public import NIOCore

/// One message of the messages resource (`/api/messages`, docs/event-bus.md "The messages
/// resource"): sent by a user to a channel or to one recipient. A deleted message stays as a
/// tombstone (no text, no metadata) so that its `message.deleted` event can still be published
/// after a crash; the API answers 404 for it.
public struct ChatMessage: Sendable, Equatable {
    /// `msg_` and 32 hex digits, made by the hub.
    public var id: String
    /// The store's order of messages (strictly increasing; the `before` of paging).
    public var sequence: Int64
    /// The user who sent it.
    public var sender: String
    /// The channel it was sent to, or nil for a message to `recipientID`.
    public var channelID: String?
    /// The user it was sent to, or nil for a channel message.
    public var recipientID: String?
    /// The text ("" once deleted).
    public var text: String
    /// A JSON object's text, or nil.
    public var metadata: String?
    /// Milliseconds since 1970.
    public var createdAt: Int64
    /// Milliseconds since 1970 of the last change.
    public var updatedAt: Int64
    /// 1 when sent, one more at each change (the event of version v is `msg_….v`).
    public var version: Int64
    /// Deleted: a tombstone.
    public var deleted: Bool

    /// A message as stored.
    public init(
        id: String, sequence: Int64, sender: String, channelID: String?, recipientID: String?, text: String, metadata: String?,
        createdAt: Int64, updatedAt: Int64, version: Int64, deleted: Bool
    ) {
        self.id = id
        self.sequence = sequence
        self.sender = sender
        self.channelID = channelID
        self.recipientID = recipientID
        self.text = text
        self.metadata = metadata
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
        self.deleted = deleted
    }

    /// The event type of its last change: `message.sent`, `message.updated` or `message.deleted`.
    public var eventType: String {
        self.deleted ? "message.deleted" : self.version == 1 ? "message.sent" : "message.updated"
    }

    /// The event id of its last change: the same however often it is published, so the bus's
    /// idempotency makes a republished change one event.
    public var eventID: String { "\(self.id).v\(self.version)" }

    /// Events of one conversation share a key, so an ordered consumer (the bridge) delivers a
    /// conversation's changes in order: the channel, or the two users of a direct message.
    public var partitionKey: String {
        if let channel = self.channelID { return "channel:" + channel }
        let users = [self.sender, self.recipientID ?? ""].sorted()
        return "dm:" + users.joined(separator: ":")
    }

    /// Writes `{"id","sequence","sender","channel_id"?,"recipient_id"?,"text","metadata"?,"created_at","updated_at","version","deleted"}`.
    public func write(into buffer: inout ByteBuffer) {
        buffer.writeStaticString(#"{"id":"#)
        buffer.writeJSONString(self.id)
        buffer.writeStaticString(#","sequence":"#)
        buffer.writeString(String(self.sequence))
        buffer.writeStaticString(#","sender":"#)
        buffer.writeJSONString(self.sender)
        if let channel = self.channelID {
            buffer.writeStaticString(#","channel_id":"#)
            buffer.writeJSONString(channel)
        }
        if let recipient = self.recipientID {
            buffer.writeStaticString(#","recipient_id":"#)
            buffer.writeJSONString(recipient)
        }
        buffer.writeStaticString(#","text":"#)
        buffer.writeJSONString(self.text)
        if let metadata = self.metadata {
            buffer.writeStaticString(#","metadata":"#)
            buffer.writeString(metadata)
        }
        buffer.writeStaticString(#","created_at":"#)
        buffer.writeString(String(self.createdAt))
        buffer.writeStaticString(#","updated_at":"#)
        buffer.writeString(String(self.updatedAt))
        buffer.writeStaticString(#","version":"#)
        buffer.writeString(String(self.version))
        buffer.writeStaticString(self.deleted ? #","deleted":true}"# : #","deleted":false}"#)
    }

    /// Its JSON (``write(into:)``).
    public var json: ByteBuffer {
        var buffer = ByteBuffer()
        self.write(into: &buffer)
        return buffer
    }
}
