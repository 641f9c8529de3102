public import ChorusCore
public import Foundation
public import NIOCore

/// A `message` frame from the hub: a publish on a subscribed topic, or a direct message.
public struct ChorusMessage: Sendable {
    /// The message as the hub encodes it (ChorusCore's type, shared with the hub).
    public var envelope: MessageEnvelope
    /// The pattern that matched, for a pattern subscription; nil for an exact topic.
    public var sub: String?
    /// The whole frame's JSON as received.
    public var frame: ByteBuffer

    /// A message from its fields.
    public init(envelope: MessageEnvelope, sub: String?, frame: ByteBuffer) {
        self.envelope = envelope
        self.sub = sub
        self.frame = frame
    }

    /// The topic (`direct` for a direct message).
    public var topic: String { self.envelope.topic }
    /// The event name.
    public var event: String { self.envelope.event }
    /// The hub's id for the message.
    public var messageID: String { self.envelope.messageID }
    /// The offset in the topic's history; nil for topics without history.
    public var offset: UInt64? { self.envelope.offset }
    /// The history's epoch; nil for topics without history.
    public var epoch: String? { self.envelope.epoch }
    /// When the hub accepted it, in milliseconds since the Unix epoch.
    public var timestamp: Int64 { self.envelope.timestamp }
    /// Who sent it, when a client did.
    public var from: MessageSender? { self.envelope.from }
    /// The `data` as JSON text, exactly as the publisher sent it (a binary message's bytes as
    /// UTF-8: use ``bytes``).
    public var dataJSON: String { String(buffer: self.envelope.data) }
    /// Whether it is a binary message: ``bytes`` are the publisher's raw bytes.
    public var isBinary: Bool { self.envelope.binary }
    /// The data's bytes: a binary message's as published (whether it came as a binary frame or
    /// as base64 JSON), a JSON message's JSON text.
    public var bytes: ByteBuffer { self.envelope.data }
    /// ``bytes`` as `Data`.
    public var dataBytes: Data { Data(self.envelope.data.readableBytesView) }
    /// The frame as JSON text.
    public var frameJSON: String { String(buffer: self.frame) }

    /// Decodes `data` as `type`.
    public func decode<Value: Decodable>(_ type: Value.Type = Value.self, using decoder: JSONDecoder = JSONDecoder()) throws -> Value {
        try decoder.decode(type, from: Data(self.envelope.data.readableBytesView))
    }
}
