import ChorusCore
import NIOCore

/// A published message, encoded once for every transport before it is handed to the shards.
final class OutboundMessage: Sendable {
    let envelope: MessageEnvelope
    /// The validated topic, for the shards' trie lookups; nil for direct messages.
    let topic: Topic?
    /// Sequence number across the process; used to deliver once per connection.
    let sequence: UInt64
    /// The complete WebSocket text frame (header included) for exact-topic subscribers.
    let webSocketFrame: ByteBuffer
    /// The binary WebSocket frame of a binary message, for exact-topic subscribers that opted in
    /// to binary frames; nil for a JSON message.
    let webSocketBinaryFrame: ByteBuffer?
    /// The complete SSE event, already framed as an HTTP chunk; nil when no SSE stream was open
    /// as the message was encoded (a loop that meets one after all encodes it then).
    let sseEvent: ByteBuffer?
    /// The connection that published it, when it must not receive it back.
    let excludedConnection: UInt64?
    let publishedAt: NIODeadline
    /// The store's commit sequence of a history message: the SSE event id streams resume from.
    let storeSequence: UInt64?

    init(
        envelope: MessageEnvelope, topic: Topic?, sequence: UInt64, storeSequence: UInt64? = nil, excludedConnection: UInt64?,
        encodingSSE: Bool = true, allocator: ByteBufferAllocator
    ) {
        self.envelope = envelope
        self.topic = topic
        self.storeSequence = storeSequence
        self.sequence = sequence
        self.excludedConnection = excludedConnection
        self.publishedAt = .now()
        self.webSocketFrame = Self.encode(envelope, sub: nil, for: .webSocket, storeSequence: storeSequence, allocator: allocator)
        self.webSocketBinaryFrame = envelope.binary ? Self.encode(envelope, sub: nil, for: .webSocket, binary: true, allocator: allocator) : nil
        self.sseEvent = encodingSSE ? Self.encode(envelope, sub: nil, for: .sse, storeSequence: storeSequence, allocator: allocator) : nil
    }

    /// The bytes for one transport and one matching pattern (`sub`); `nil` is the exact topic.
    /// `binary`: a binary message goes as a binary WebSocket frame (the client opted in).
    static func encode(
        _ envelope: MessageEnvelope,
        sub: String?,
        for transport: TransportKind,
        binary: Bool = false,
        storeSequence: UInt64? = nil,
        allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        switch transport {
        case .webSocket where binary && envelope.binary:
            WebSocketFrameEncoding.binaryFrame(allocator: allocator, capacity: envelope.data.readableBytes + 160) { buffer in
                envelope.writeBinaryFrame(into: &buffer, sub: sub)
            }
        case .webSocket:
            WebSocketFrameEncoding.textFrame(allocator: allocator, capacity: envelope.jsonDataCapacity + 160) { buffer in
                envelope.writeFrame(into: &buffer, sub: sub)
            }
        case .sse:
            SSEEncoding.event(id: storeSequence.map { String($0) } ?? envelope.messageID, name: envelope.event, allocator: allocator, capacity: envelope.jsonDataCapacity + 200) { buffer in
                envelope.writeFrame(into: &buffer, sub: sub)
            }
        }
    }
}

extension MessageEnvelope {
    /// The bytes `data` takes in a JSON frame: base64 makes a binary message's a third longer.
    fileprivate var jsonDataCapacity: Int {
        self.binary ? (self.data.readableBytes + 2) / 3 * 4 + 24 : self.data.readableBytes
    }
}
