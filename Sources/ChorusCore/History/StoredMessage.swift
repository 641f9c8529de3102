import NIOCore

/// A message as history keeps it: the envelope with its place in the topic (`offset`, `epoch`)
/// and in the store (`sequence`, increasing across all topics in commit order).
public struct StoredMessage: Sendable {
    public var envelope: MessageEnvelope
    public var sequence: UInt64

    public init(envelope: MessageEnvelope, sequence: UInt64) {
        self.envelope = envelope
        self.sequence = sequence
    }

    public var topic: String { self.envelope.topic }
    public var offset: UInt64 { self.envelope.offset ?? 0 }
}
