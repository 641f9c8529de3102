public import NIOCore

/// Who sent a message, when it came from a client rather than the server API.
public struct MessageSender: Sendable, Hashable {
    /// The sender's user (token `sub`); nil for an anonymous client.
    public var user: String?
    /// The sending connection's client id.
    public var client: String

    /// A sender: `user` on connection `client`.
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
    /// The topic published to.
    public var topic: String
    /// The event name (`message` unless the publisher named one).
    public var event: String
    /// The publisher's JSON, as sent.
    public var data: ByteBuffer
    /// The id the hub gave the message.
    public var messageID: String
    /// The message's offset in its topic's history; nil when the topic keeps none.
    public var offset: UInt64?
    /// The epoch of that history; nil when the topic keeps none.
    public var epoch: String?
    /// Milliseconds since the Unix epoch.
    public var timestamp: Int64
    /// Who sent it, when a client did; nil for the server API.
    public var from: MessageSender?
    /// Whether `data` is raw bytes (a binary publish) rather than JSON: binary WebSocket frames
    /// carry them as they are, JSON frames as a base64 string with `encoding: "base64"`.
    public var binary: Bool

    /// A message as subscribers receive it.
    public init(
        topic: String,
        event: String,
        data: ByteBuffer,
        messageID: String,
        offset: UInt64? = nil,
        epoch: String? = nil,
        timestamp: Int64,
        from: MessageSender? = nil,
        binary: Bool = false
    ) {
        self.topic = topic
        self.event = event
        self.data = data
        self.messageID = messageID
        self.offset = offset
        self.epoch = epoch
        self.timestamp = timestamp
        self.from = from
        self.binary = binary
    }

    /// The leading byte of a binary message's data as stores keep it: no JSON text starts with
    /// it, so stores keep one data column and old histories read back unchanged.
    static let storedBinaryMarker: UInt8 = 0

    /// `data` as stores keep it: JSON as is; raw bytes after ``storedBinaryMarker``.
    public var storedData: ByteBuffer {
        guard self.binary else { return self.data }
        var stored = ByteBuffer()
        stored.reserveCapacity(self.data.readableBytes + 1)
        stored.writeInteger(Self.storedBinaryMarker)
        stored.writeImmutableBuffer(self.data)
        return stored
    }

    /// Sets `data` and `binary` from data as stores keep it (``storedData``).
    public mutating func setStoredData(_ stored: ByteBuffer) {
        if stored.getInteger(at: stored.readerIndex, as: UInt8.self) == Self.storedBinaryMarker {
            self.data = stored.getSlice(at: stored.readerIndex + 1, length: stored.readableBytes - 1)!
            self.binary = true
        } else {
            self.data = stored
            self.binary = false
        }
    }

    /// Writes the `message` frame as a binary frame (``BinaryFrame``): its fields in the
    /// header, the data raw after it. A JSON message has no binary form: ``writeFrame(into:sub:)``.
    public func writeBinaryFrame(into buffer: inout ByteBuffer, sub: String? = nil) {
        BinaryFrame.write(into: &buffer, data: self.data) { header in
            self.writeFields(into: &header, sub: sub, data: false)
        }
    }

    /// Writes the `message` frame's JSON; `sub` names the pattern that matched for pattern
    /// subscribers, so one message has one encoding per matching pattern, not per recipient.
    /// A binary message's data is a base64 string there, with `"encoding":"base64"`.
    public func writeFrame(into buffer: inout ByteBuffer, sub: String? = nil) {
        self.writeFields(into: &buffer, sub: sub, data: true)
    }

    private func writeFields(into buffer: inout ByteBuffer, sub: String?, data: Bool) {
        buffer.writeStaticString(#"{"type":"message","topic":"#)
        buffer.writeJSONString(self.topic)
        buffer.writeStaticString(#","event":"#)
        buffer.writeJSONString(self.event)
        if data && self.binary {
            buffer.writeStaticString(#","data":""#)
            buffer.writeString(Base64.encode(self.data.readableBytesView, .standard))
            buffer.writeStaticString(#"","encoding":"base64""#)
        } else if data {
            buffer.writeStaticString(#","data":"#)
            buffer.writeImmutableBuffer(self.data)
        }
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
