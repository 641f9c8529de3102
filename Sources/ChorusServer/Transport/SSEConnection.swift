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
    /// The resume's replay and its seam with live messages.
    var gate = RecoveryGate<Replay>()
    var handshake = CloseHandshake()
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
        self.write(self.responseHead())
        // An opening comment makes proxies and browsers see the stream start at once.
        self.write(SSEEncoding.comment("connected \(self.info.client)", allocator: self.allocator))
        self.shard.register(self)
        for (pattern, filtered) in self.patterns {
            _ = self.shard.subscribe(self, to: pattern, filtered: filtered)
        }
        if let after = self.resumeAfter, let history = self.hub.history {
            self.resume(after: after, history: history)
        }
        self.output.flush()
    }

    /// Replays what a reconnecting EventSource missed, page by page: every message of the
    /// stream's history topics committed after `Last-Event-ID`, then the live messages held
    /// meanwhile.
    private func resume(after sequence: UInt64, history: any HistoryStore) {
        let floor = history.committedSequence()
        guard sequence < floor else { return }
        let hub = self.hub
        let access = self.access
        let patterns = self.patterns.map(\.pattern)
        let replay = Replay(
            read: { store, cursor, _ in
                try hub.replayPage(store, matching: patterns, access: access, after: cursor, through: floor, newerThan: nil)
            },
            initialCursor: sequence,
            sub: { topicName in
                // None when the stream names the topic, else the first pattern that matches it.
                guard let topic = try? Topic(topicName), !patterns.contains(TopicPattern(topic)) else { return nil }
                return patterns.first { $0.matches(topic) }?.text
            },
            answer: nil,
            sendsPartial: true
        )
        self.startReplay(key: "", scope: .patterns(patterns), floor: floor, replay: replay)
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
        guard self.deliver(bytes, of: message, flush: flush) else { return false }
        self.lastWrite = .now()
        return true
    }

    /// Nothing waits on the client's input here: replays resume by themselves.
    func resumeOutput() {}

    func flush() {
        self.output.flush()
    }

    func sweep(now: NIODeadline) {
        guard !self.sweepEnding(now: now) else { return }
        if let expiresAt = self.identity.expiresAt, WallClock.milliseconds() >= expiresAt {
            return self.disconnect(code: .tokenInvalid, reason: "token expired", reconnect: true)
        }
        if now - self.lastWrite >= TimeAmount(self.hub.configuration.sseKeepAliveInterval) {
            self.lastWrite = now
            self.write(SSEEncoding.comment("ping", allocator: self.allocator), flush: true)
        }
    }

    /// Sends a `disconnect` event with the protocol's disconnect frame, ends the chunked body and
    /// closes once that is sent (or at the close deadline, for a client that does not read).
    func disconnect(code: CloseCode, reason: String, reconnect: Bool) {
        let event = SSEEncoding.event(id: nil, name: "disconnect", allocator: self.allocator, capacity: 128) { buffer in
            ServerFrame.disconnect(code: code, reason: reason, reconnect: reconnect).write(into: &buffer)
        }
        self.end(with: [event, SSEEncoding.lastChunk(allocator: self.allocator)], awaitPeer: false)
    }
}
