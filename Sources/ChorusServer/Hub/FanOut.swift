import ChorusCore
import NIOCore

/// One message's fan-out on one event loop: the subscriber sets it goes to (the exact topic's,
/// then each matching pattern's; or a user's connections) and how far the writing has got, so a
/// large fan-out is written in slices with the loop's I/O served in between.
///
/// Consecutive messages to a topic whose subscribers on this loop are all in one group (all
/// exact, or all of one pattern) are written as one fan-out, each subscriber getting all of them
/// in turn: one flush then carries them all, as when a fan-out was never sliced. Written message
/// by message, each slice's flush would send one message per subscriber, a system call per delivery.
struct FanOut {
    struct Group {
        /// The wildcard pattern these subscribers matched (their frames carry `sub`, and a
        /// filtered subscription is checked per topic); nil for the exact topic and for a user.
        let pattern: TopicPattern?
        /// The frames of each of the fan-out's messages, in their order.
        var frames: [MessageFrames]
        let subscribers: Set<ConnectionKey>

        init(pattern: TopicPattern?, frames: MessageFrames, subscribers: Set<ConnectionKey>) {
            self.pattern = pattern
            self.frames = [frames]
            self.subscribers = subscribers
        }
    }

    /// The most messages one fan-out carries.
    static let maxMessages = 64

    /// Oldest first; more than one only when one group at most has subscribers (so no
    /// connection is in two groups, and each gets each message once by the order of the writes).
    private(set) var messages: [OutboundMessage]
    var groups: [Group]
    /// The group being written and the next subscriber in it (nil: its first).
    var group = 0
    var position: Set<ConnectionKey>.Index?

    init(message: OutboundMessage, groups: [Group]) {
        self.messages = [message]
        self.groups = groups
    }

    /// Whether `message` can join this fan-out: not started yet, the same topic (so the same
    /// groups), one group at most with subscribers, room left.
    func canAdd(_ message: OutboundMessage) -> Bool {
        self.group == 0 && self.position == nil && self.messages.count < Self.maxMessages
            && message.topic != nil && message.topic == self.messages[0].topic
            && self.groups.count(where: { !$0.subscribers.isEmpty }) <= 1
    }

    /// Adds `message`, which ``canAdd(_:)`` accepted.
    mutating func add(_ message: OutboundMessage, allocator: ByteBufferAllocator) {
        self.messages.append(message)
        for index in self.groups.indices {
            self.groups[index].frames.append(MessageFrames(message: message, pattern: self.groups[index].pattern?.text, allocator: allocator))
        }
    }
}

/// The frames of one message for the subscribers of one pattern on this loop (they carry `sub`;
/// nil is the exact topic, whose frames the message carries), encoded on first use and shared
/// by every such subscriber. The exact topic's SSE event is encoded here when the message left
/// it out (no SSE stream was open as it was encoded).
struct MessageFrames {
    let message: OutboundMessage
    let pattern: String?
    let allocator: ByteBufferAllocator
    private var webSocket: ByteBuffer?
    private var webSocketBinary: ByteBuffer?
    private var sse: ByteBuffer?

    init(message: OutboundMessage, pattern: String?, allocator: ByteBufferAllocator) {
        self.message = message
        self.pattern = pattern
        self.allocator = allocator
        if pattern == nil {
            self.webSocket = message.webSocketFrame
            self.webSocketBinary = message.webSocketBinaryFrame
            self.sse = message.sseEvent
        }
    }

    /// `binary`: the connection takes binary messages as binary frames.
    mutating func frame(for transport: TransportKind, binary: Bool = false) -> ByteBuffer {
        switch transport {
        case .webSocket where binary && self.message.envelope.binary:
            if let webSocketBinary { return webSocketBinary }
            let frame = self.encode(for: .webSocket, binary: true)
            self.webSocketBinary = frame
            return frame
        case .webSocket:
            if let webSocket { return webSocket }
            let frame = self.encode(for: .webSocket, binary: false)
            self.webSocket = frame
            return frame
        case .sse:
            if let sse { return sse }
            let frame = self.encode(for: .sse, binary: false)
            self.sse = frame
            return frame
        }
    }

    private func encode(for transport: TransportKind, binary: Bool) -> ByteBuffer {
        OutboundMessage.encode(
            self.message.envelope, sub: self.pattern, for: transport, binary: binary, storeSequence: self.message.storeSequence, allocator: self.allocator
        )
    }
}
