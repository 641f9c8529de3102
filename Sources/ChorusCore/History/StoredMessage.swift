import NIOCore

/// A message as history keeps it: the envelope with its place in the topic (`offset`, `epoch`)
/// and in the store (`sequence`, increasing across all topics in commit order).
public struct StoredMessage: Sendable {
    /// The message, with its topic, offset and epoch.
    public var envelope: MessageEnvelope
    /// Its place among all the store's messages, in commit order.
    public var sequence: UInt64

    /// `envelope` stored at `sequence`.
    public init(envelope: MessageEnvelope, sequence: UInt64) {
        self.envelope = envelope
        self.sequence = sequence
    }

    /// The message's topic.
    public var topic: String { self.envelope.topic }
    /// The message's offset in its topic (0 if it has none).
    public var offset: UInt64 { self.envelope.offset ?? 0 }
}
