import ChorusCore
import NIOCore

/// One Server-Sent Events stream: the response head, then pre-encoded events (each one HTTP
/// chunk) from its ``LoopShard``, `: ping` comments from the shard's sweep, and a final
/// `disconnect` event when the hub closes it.
final class SSEConnection: ClientConnectionHandler {
    typealias InboundIn = ByteBuffer

    let hub: Hub
    let shard: LoopShard
    let info: ConnectionInfo
    var transport: TransportKind { .sse }
    var subscriptions = SubscriptionSet()
    var filteredPatterns: Set<TopicPattern> = []
    let access: TopicAccess?
    var lastDeliveredSequence: UInt64 = 0
    var flushPending = false

    /// The stream's subscriptions, each with whether its deliveries are checked topic by topic.
    private let patterns: [(pattern: TopicPattern, filtered: Bool)]
    private let identity: Identity
    private let allowOrigin: String?
    let output: ConnectionOutput
    private var lastWrite = NIODeadline.now()
    /// `Last-Event-ID`: the store sequence this stream resumes after.
    private let resumeAfter: UInt64?
    /// History messages at or below this store sequence were replayed (or precede the stream) and
    /// are dropped; while `holding`, newer ones wait in `held` for the replay.
    private var resumeFloor: UInt64?
    private var holding = false
    private var held: [ByteBuffer] = []
    var closing = false
    private let allocator = ByteBufferAllocator()

    init(
        hub: Hub,
        shard: LoopShard,
        request: ConnectRequest,
        identity: Identity,
        access: TopicAccess?,
        patterns: [(pattern: TopicPattern, filtered: Bool)],
        allowOrigin: String?
    ) {
        self.hub = hub
        self.shard = shard
        self.patterns = patterns
        self.identity = identity
        self.access = access
        self.allowOrigin = allowOrigin
        self.output = ConnectionOutput(maxBacklog: hub.configuration.maxBacklog)
        self.info = hub.makeConnectionInfo(transport: .sse, user: identity.user, remoteAddress: request.remoteAddress)
        self.resumeAfter = request.lastEventID.flatMap { UInt64($0) }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.output.attach(context)
        self.output.write(self.responseHead())
        // An opening comment makes proxies and browsers see the stream start at once.
        self.output.write(SSEEncoding.comment("connected \(self.info.client)", allocator: self.allocator))
        self.shard.register(self)
        for (pattern, filtered) in self.patterns {
            _ = self.shard.subscribe(self, to: pattern, filtered: filtered)
        }
        if let after = self.resumeAfter, let history = self.hub.history {
            self.resume(after: after, history: history)
        }
        self.output.flush()
    }

    /// Replays what a reconnecting EventSource missed: every message of the stream's history
    /// topics committed after `Last-Event-ID`, then the live messages held meanwhile.
    private func resume(after sequence: UInt64, history: HistoryLog) {
        let topics = Set(self.patterns.flatMap { self.hub.historyTopics(matching: $0.pattern) }.filter { self.access.mayRead($0) }.map(\.name))
        guard !topics.isEmpty else { return }
        let floor = history.committedSequence()
        self.resumeFloor = floor
        self.holding = true
        history.read(on: self.shard.eventLoop) { store in
            try store.messages(topics: Array(topics), afterSequence: sequence, limit: HistoryLog.maxReplay)
        }.assumeIsolated().whenComplete { result in
            guard !self.closing else { return }
            for message in (try? result.get()) ?? [] where message.sequence <= floor {
                self.output.write(OutboundMessage.encode(message.envelope, sub: self.sub(for: message.topic), for: .sse, storeSequence: message.sequence, allocator: self.allocator))
            }
            for bytes in self.held { self.output.write(bytes) }
            self.held.removeAll()
            self.holding = false
            self.output.flush()
        }
    }

    /// The `sub` of a replayed message: none when the stream names its topic, else the first pattern that matches it.
    private func sub(for topicName: String) -> String? {
        guard let topic = try? Topic(topicName), !self.patterns.contains(where: { $0.pattern == TopicPattern(topic) }) else { return nil }
        return self.patterns.first { $0.pattern.matches(topic) }?.pattern.text
    }

    private func responseHead() -> ByteBuffer {
        var head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
        head += "connection: keep-alive\r\ntransfer-encoding: chunked\r\nx-accel-buffering: no\r\n"
        if let allowOrigin = self.allowOrigin {
            head += "access-control-allow-origin: \(allowOrigin)\r\n"
            if allowOrigin != "*" { head += "vary: origin\r\n" }
        }
        head += "\r\n"
        return ByteBuffer(string: head)
    }

    /// The client has nothing more to say on an event stream; whatever it sends is dropped.
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func enqueue(_ bytes: ByteBuffer, of message: OutboundMessage, flush: Bool) -> Bool {
        guard !self.closing else { return false }
        if let floor = self.resumeFloor, let sequence = message.storeSequence {
            if sequence <= floor { return false }
            if self.holding {
                self.held.append(bytes)
                return false
            }
            self.resumeFloor = nil  // past the seam
        }
        guard self.output.enqueue(bytes, flush: flush) else {
            self.hub.metrics.slowConsumerDisconnected()
            self.closing = true
            self.output.abort()
            return false
        }
        self.lastWrite = .now()
        return true
    }

    func flush() {
        self.output.flush()
    }

    func sweep(now: NIODeadline) {
        guard !self.closing else { return }
        if let expiresAt = self.identity.expiresAt, WallClock.milliseconds() >= expiresAt {
            return self.disconnect(code: .tokenInvalid, reason: "token expired", reconnect: true)
        }
        if now - self.lastWrite >= TimeAmount(self.hub.configuration.sseKeepAliveInterval) {
            self.lastWrite = now
            self.output.write(SSEEncoding.comment("ping", allocator: self.allocator))
            self.output.flush()
        }
    }

    /// Sends a `disconnect` event with the protocol's disconnect frame, ends the chunked body and closes.
    func disconnect(code: CloseCode, reason: String, reconnect: Bool) {
        guard !self.closing else { return }
        self.closing = true
        let event = SSEEncoding.event(id: nil, name: "disconnect", allocator: self.allocator, capacity: 128) { buffer in
            ServerFrame.disconnect(code: code, reason: reason, reconnect: reconnect).write(into: &buffer)
        }
        self.output.write(event)
        self.output.writeThenClose(SSEEncoding.lastChunk(allocator: self.allocator))
    }
}
