import ChorusCore
import Logging
import NIOCore
import NIOWebSocket

/// One WebSocket client: parses its frames, speaks protocol v1 over them, and receives fan-out
/// bytes from its ``LoopShard``.
///
/// A plain NIO handler: no task, actor or timer of its own. Heartbeats and expiry come from the
/// shard's sweep; replies are flushed once per read burst (`channelReadComplete`).
final class WebSocketConnection: ClientConnectionHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum AuthState {
        /// No token yet: anonymous if allowed, else only `auth` and `ping` are served.
        case none
        case authenticated
    }

    let hub: Hub
    let shard: LoopShard
    private(set) var info: ConnectionInfo
    var transport: TransportKind { .webSocket }
    var subscriptions = SubscriptionSet()
    var filteredPatterns: Set<TopicPattern> = []
    private(set) var access: TopicAccess?
    /// Made on the first publish (most connections never publish); stays nil when unlimited.
    private var publishThrottle: PublishThrottleBox?
    private var subscribeThrottle: PublishThrottleBox?
    var lastDeliveredSequence: UInt64 = 0
    /// Publishes accepted and not answered yet (history topics wait for their commit).
    private var publishesInFlight = 0
    private var shuttingDown = false
    var flushPending = false

    /// What the upgrade request asked for (token, `?topic=`); dropped once acted on.
    private var request: ConnectRequest?
    let output: ConnectionOutput
    private var authState = AuthState.none
    private var expiresAt: Int64?
    private var parser: WebSocketFrameParser
    private var assembler: WebSocketMessageAssembler
    /// Replays of history topics and patterns, and their seams with live messages.
    var gate = RecoveryGate<Replay>()
    private var lastInbound = NIODeadline.now()
    private var lastPing = NIODeadline.now()
    var handshake = CloseHandshake()
    /// Shared: a stored allocator would cost every idle connection its four function pointers.
    private static let allocator = ByteBufferAllocator()
    /// The largest frame a hub that requires tokens reads before one is verified: room for a
    /// token, not for a flood (the hub's answers to such a client are small too).
    static let maxFrameBeforeAuth = 16 << 10
    /// The longest `timestamp` a `ping` may ask to have echoed.
    static let maxPingTimestamp = 256
    private var allocator: ByteBufferAllocator { Self.allocator }

    init(hub: Hub, shard: LoopShard, request: ConnectRequest) {
        self.hub = hub
        self.shard = shard
        self.request = request
        self.output = ConnectionOutput(maxBacklog: hub.configuration.maxBacklog)
        // Until a token is verified, a hub that requires one reads only small frames.
        self.parser = WebSocketFrameParser(
            maxFrameSize: hub.authenticator.anonymousAllowed ? hub.configuration.maxMessageSize : min(hub.configuration.maxMessageSize, Self.maxFrameBeforeAuth)
        )
        self.assembler = WebSocketMessageAssembler(maxMessageSize: hub.configuration.maxMessageSize)
        self.info = hub.makeConnectionInfo(transport: .webSocket, user: nil, remoteAddress: request.remoteAddress)
        self.access = TopicAccess.make(for: .anonymous, configuration: hub.configuration)
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.output.attach(context)
        self.shard.register(self)
        if let token = self.request?.token {
            self.verify(token: token, id: nil, atConnect: true)
        } else {
            self.subscribeRequestedTopics()
        }
        // The 101 response the router wrote, and any replies, in one write.
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.hub.logger.debug("WebSocket connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: Inbound frames

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Closing without waiting for an answer: nothing the client still sends matters, and
        // keeping it would let it fill the parser until the close deadline.
        if case .flushing = self.handshake.state { return }
        self.lastInbound = .now()
        self.parser.append(Self.unwrapInboundIn(data))
        self.receiveFrames()
    }

    /// Serves the frames read so far, while the client reads what the hub answers: past that,
    /// the rest waits in the parser (and the channel stops reading) until it is writable again.
    private func receiveFrames() {
        do throws(WebSocketFrameParser.Failure) {
            while self.output.writable, let frame = try self.parser.next() {
                self.receive(frame)
            }
        } catch {
            switch error {
            case .tooLarge: self.failConnection(.messageTooLarge, "frame larger than \(self.parser.maxFrameSize) bytes")
            case .protocolViolation(let reason): self.failConnection(.protocolError, reason)
            }
        }
    }

    func resumeOutput() {
        self.receiveFrames()
    }

    private func receive(_ frame: WebSocketFrame) {
        guard !self.closing || frame.opcode == .connectionClose else { return }
        switch self.assembler.receive(frame) {
        case .message(let text, let data):
            self.handleMessage(text: text, data: data)
        case .ping(let payload):
            self.write(WebSocketFrameEncoding.controlFrame(opcode: 0xA, payload: payload, allocator: self.allocator))
        case .close(let code):
            // Answer a client-initiated close; if we initiated it, this is the answer we waited for.
            switch self.handshake.peerClosed(now: .now()) {
            case .sendAndCloseWhenFlushed:
                self.output.finish([WebSocketFrameEncoding.closeFrame(code: code.rawValue, reason: "", allocator: self.allocator)], closeWhenFlushed: true)
            case .close: self.output.abort()
            case .sendAndAwaitPeer, .none: break
            }
        case .fail(let code, let reason):
            self.failConnection(code, reason)
        case .pong, nil:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.output.flush()
        context.fireChannelReadComplete()
    }

    private func handleMessage(text: Bool, data: ByteBuffer) {
        guard text else {
            return self.reply(.error(ProtocolError(.badRequest, "binary frames are not supported; send JSON text frames")), id: nil)
        }
        let decoded = self.hub.frameDecoder.decode(data)
        switch decoded.result {
        case .success(let clientFrame):
            self.handle(clientFrame, id: decoded.id)
        case .failure(let error):
            self.replyError(error, id: decoded.id)
        }
    }

    // MARK: Protocol

    private var mayAct: Bool {
        switch self.authState {
        case .authenticated: true
        case .none: self.hub.authenticator.anonymousAllowed
        }
    }

    private func handle(_ frame: ClientFrame, id: RawJSON?) {
        switch frame {
        case .auth(let token):
            return self.verify(token: token, id: id, atConnect: false)
        case .ping(let timestamp):
            if let timestamp, timestamp.bytes.readableBytes > Self.maxPingTimestamp {
                return self.replyError(ProtocolError(.badRequest, "'timestamp' is longer than \(Self.maxPingTimestamp) bytes"), id: id)
            }
            return self.reply(.pong(timestamp: timestamp), id: id)
        default:
            break
        }
        guard self.mayAct else {
            return self.replyError(ProtocolError(.unauthorized, "authenticate first: send an 'auth' frame with a token"), id: id)
        }
        if frame.isRateLimited, !self.admit(.publishRatePerConnection, id: id) { return }
        if case .subscribe = frame, !self.admit(.subscribeRatePerConnection, id: id) { return }
        switch frame {
        case .subscribe(let pattern, let since):
            do {
                if !self.subscriptions.contains(pattern) { try self.hub.limits.admitSubscriptions(total: self.subscriptions.count + 1) }
                _ = self.shard.subscribe(self, to: pattern, filtered: try self.access.authorizeSubscription(to: pattern))
            } catch {
                return self.replyError(error, id: id)
            }
            if let topic = pattern.exactTopic, let history = self.hub.history, self.hub.historySize(of: topic) != nil {
                self.subscribe(to: topic, history: history, since: since, id: id)
            } else if pattern.isWildcard, case .timestamp(let milliseconds)? = since, let history = self.hub.history {
                self.subscribe(to: pattern, history: history, since: milliseconds, id: id)
            } else {
                self.reply(.subscribed(topic: pattern.text, offset: nil, epoch: nil, recovered: since == nil ? nil : false), id: id)
            }
        case .unsubscribe(let pattern):
            _ = self.shard.unsubscribe(self, from: pattern)
            self.gate.cancel(key: pattern.text)
            self.reply(.unsubscribed(topic: pattern.text), id: id)
        case .publish(let publish):
            guard !self.shuttingDown else {
                return self.replyError(ProtocolError(.unavailable, "the hub is shutting down; publish again once reconnected"), id: id)
            }
            let loop = self.shard.eventLoop
            let connection = NIOLoopBound(self, eventLoop: loop)
            do {
                try self.access.authorizePublish(to: publish.topic)
                // Counted until answered, so a shutdown closes only after every ack is written.
                self.publishesInFlight += 1
                try self.hub.publish(
                    topic: publish.topic,
                    event: publish.event,
                    data: publish.data.bytes,
                    from: self.info.sender,
                    excludingConnection: self.hub.configuration.deliverToPublisher ? nil : self.info.id,
                    idempotencyKey: publish.idempotencyKey.map { IdempotencyKey(publisher: self.publisher, topic: publish.topic.name, key: $0) }
                ) { result in
                    // Other topics complete right here; history topics on the store's thread once committed.
                    if loop.inEventLoop {
                        connection.value.acknowledge(result, id: id)
                    } else {
                        loop.execute { connection.value.acknowledge(result, id: id) }
                    }
                }
            } catch {
                self.publishesInFlight -= 1
                self.replyError(error, id: id)
            }
        case .direct(let user, let event, let data):
            do {
                try self.access.authorizeDirect()
                let receipt = try self.hub.send(toUser: user, event: event, data: data.bytes, from: self.info.sender)
                self.reply(.ack(messageID: receipt.messageID, offset: nil, epoch: nil), id: id)
            } catch {
                self.replyError(error, id: id)
            }
        case .presence, .presenceUpdate:
            self.replyError(ProtocolError(.unknownType, "presence is not available in this version of the hub"), id: id)
        case .custom(let type, let fields):
            guard let handler = self.hub.customHandlers[type] else {
                return self.replyError(ProtocolError(.unknownType, "no handler for frame type '\(type)'"), id: id)
            }
            do {
                let answer = try handler(CustomFrameContext(hub: self.hub, connection: self.info, type: type, fields: fields, access: self.access))
                self.reply(answer ?? .ack(messageID: nil, offset: nil, epoch: nil), id: id)
            } catch {
                self.replyError(error, id: id)
            }
        case .auth, .ping:
            break
        }
    }

    /// Takes a token from the connection's throttle for `limit` (publish or subscribe frames);
    /// answers `rate_limited` (and closes with 4029 past twice the rate) when there is none.
    private func admit(_ limit: LimitKind, id: RawJSON?) -> Bool {
        let subscribing = limit == .subscribeRatePerConnection
        let made = (subscribing ? self.subscribeThrottle : self.publishThrottle) ?? self.hub.limits.makeThrottle(limit)
        if subscribing { self.subscribeThrottle = made } else { self.publishThrottle = made }
        guard let made, let refusal = self.hub.limits.check(made, limit) else { return true }
        self.replyError(refusal.error, id: id)
        if refusal.abusive {
            self.closeNow(code: .rateLimited, reason: subscribing ? "subscribing far over the rate limit" : "publishing far over the rate limit", reconnect: false)
        }
        return false
    }

    private func acknowledge(_ result: Result<Hub.Receipt, ProtocolError>, id: RawJSON?) {
        self.publishesInFlight -= 1
        switch result {
        case .success(let receipt):
            self.reply(.ack(messageID: receipt.messageID, offset: receipt.offset, epoch: receipt.epoch), id: id)
        case .failure(let error):
            self.replyError(error, id: id)
        }
        self.flushReplies()
        if self.shuttingDown, self.publishesInFlight == 0 {
            self.shutDown()
        }
    }

    /// Whose idempotency keys this connection's publishes use: the user's, shared with its
    /// other connections and the HTTP API; an anonymous connection has only its own.
    private var publisher: String {
        self.info.user.map { "user:" + $0 } ?? "client:" + self.info.client
    }

    /// Shutdown: new publishes are refused (`unavailable`), and `disconnect` and 1001 wait until
    /// every publish already accepted is answered, so nothing is stored without its ack.
    func shutDown() {
        self.shuttingDown = true
        if self.publishesInFlight == 0 {
            self.disconnect(code: .goingAway, reason: "hub shutting down", reconnect: true)
        }
    }

    // MARK: History

    /// Subscribes to a topic that keeps history, replaying what the client missed when `since`
    /// allows it, page by page. The live subscription is already in place: messages that
    /// arrive meanwhile are held, then those above the replayed position follow it, so there
    /// is no gap and no duplicate at the seam.
    private func subscribe(to topic: Topic, history: any HistoryStore, since: RecoveryPosition?, id: RawJSON?) {
        let (state, floor) = history.committedPosition(of: topic.name)
        let top = state?.lastOffset ?? 0
        guard case .offset(let from, let epoch)? = since, let state, epoch == state.epoch, from < top else {
            var recovered: Bool?
            if case .offset(let from, let epoch)? = since {
                // Already up to date (or nothing was ever published): nothing is missing.
                recovered = from == top && (epoch == state?.epoch || (state == nil && from == 0))
            } else if since != nil {
                recovered = false  // a time position is for pattern subscriptions
            }
            self.startReplay(key: topic.name, scope: .topic(topic.name), floor: floor, replay: nil)
            self.reply(.subscribed(topic: topic.name, offset: top, epoch: state?.epoch, recovered: recovered), id: id)
            return
        }
        let name = topic.name
        let pageCount = self.hub.topicReplayPageCount
        let replay = Replay(
            read: { store, cursor, first in
                let messages = try store.messages(topic: name, after: cursor, limit: pageCount).prefix { $0.offset <= top }
                let next = messages.last?.offset ?? top
                var page = ReplayPage(messages: Array(messages), cursor: next, exhausted: next >= top)
                // Complete or nothing: a replay must go on right after `since` and its last page.
                let continues = messages.first.map { $0.offset == cursor + 1 } ?? (cursor >= top)
                if first { page.complete = continues } else { page.overtaken = !continues }
                return page
            },
            initialCursor: from,
            sub: { _ in nil },
            answer: { recovered in
                Self.encode(.subscribed(topic: name, offset: top, epoch: state.epoch, recovered: recovered), id: id)
            },
            sendsPartial: false
        )
        self.startReplay(key: name, scope: .topic(name), floor: floor, replay: replay)
    }

    /// Subscribes to a pattern, replaying the retained messages of every matching history topic
    /// newer than `since` (ms), in commit order, one bounded store query per page. Recovery is
    /// reported complete only when no matching topic may have lost messages newer than `since`
    /// to trimming.
    private func subscribe(to pattern: TopicPattern, history: any HistoryStore, since milliseconds: Int64, id: RawJSON?) {
        let floor = history.committedSequence()
        let hub = self.hub
        let access = self.access
        let replay = Replay(
            read: { store, cursor, first in
                var page = try hub.replayPage(store, matching: [pattern], access: access, after: cursor, through: floor, newerThan: milliseconds)
                if first { page.complete = try !store.mayHaveTrimmed(matching: [pattern], newerThan: milliseconds) }
                return page
            },
            initialCursor: 0,
            sub: { _ in pattern.text },
            answer: { recovered in
                Self.encode(.subscribed(topic: pattern.text, offset: nil, epoch: nil, recovered: recovered), id: id)
            },
            sendsPartial: true
        )
        self.startReplay(key: pattern.text, scope: .patterns([pattern]), floor: floor, replay: replay)
    }

    private func subscribeRequestedTopics() {
        let topics = self.request?.topics ?? []
        self.request = nil
        for text in topics {
            guard self.mayAct else {
                self.replyError(ProtocolError(.unauthorized, "authenticate first: send an 'auth' frame with a token"), id: nil)
                break
            }
            do {
                // Exactly as if the client had sent `subscribe` (history topics included).
                self.handle(.subscribe(try TopicPattern(text), since: nil), id: nil)
            } catch {
                self.replyError(ProtocolError(.badRequest, "invalid topic \(ProtocolError.quoted(text)): \(error.description)"), id: nil)
            }
        }
        self.flushReplies()
    }

    /// Verifies a token in place, on the connection's loop (no frame can arrive meanwhile).
    private func verify(token: String, id: RawJSON?, atConnect: Bool) {
        guard !self.closing else { return }
        let result = Result { () throws(ProtocolError) in try self.hub.authenticator.verify(token: token) }
        switch result {
        case .success(let identity):
            if let current = self.info.user, current != identity.user {
                self.replyError(ProtocolError(.forbidden, "a connection cannot change user; reconnect instead"), id: id)
            } else {
                if self.info.user == nil, let user = identity.user {
                    do {
                        guard let channel = self.output.context?.channel else { return }
                        try self.hub.limits.admitUser(user, channel: channel)
                    } catch {
                        self.replyError(error, id: id)
                        return self.closeNow(code: .rateLimited, reason: error.message, reconnect: true)
                    }
                    self.info.user = user
                    self.shard.setUser(user, of: self)
                }
                self.access = TopicAccess.make(for: identity, configuration: self.hub.configuration)
                self.expiresAt = identity.expiresAt
                self.authState = .authenticated
                self.parser.maxFrameSize = self.hub.configuration.maxMessageSize
                self.reply(.authSuccess(client: self.info.client, user: self.info.user, expiresAt: identity.expiresAt), id: id)
            }
        case .failure(let error):
            self.replyError(error, id: id)
            self.flushReplies()
            // A bad token is final (4001): the client must get a new one.
            return self.disconnect(code: .tokenInvalid, reason: error.message, reconnect: false)
        }
        if atConnect {
            self.subscribeRequestedTopics()
        }
        self.flushReplies()
    }

    // MARK: Writing

    private func reply(_ frame: ServerFrame, id: RawJSON?) {
        self.write(Self.encode(frame, id: id))
    }

    private static func encode(_ frame: ServerFrame, id: RawJSON?) -> ByteBuffer {
        WebSocketFrameEncoding.textFrame(allocator: Self.allocator, capacity: 128) { buffer in
            frame.write(into: &buffer, id: id)
        }
    }

    private func replyError(_ error: ProtocolError, id: RawJSON?) {
        self.hub.metrics.error(error.code)
        self.reply(.error(error), id: id)
    }

    private func flushReplies() {
        self.output.flush()
    }

    func flush() {
        self.output.flush()
    }

    func sweep(now: NIODeadline) {
        guard !self.sweepEnding(now: now) else { return }
        if let expiresAt = self.expiresAt, WallClock.milliseconds() >= expiresAt {
            return self.disconnect(code: .tokenInvalid, reason: "token expired", reconnect: true)
        }
        let configuration = self.hub.configuration
        if now - self.lastInbound >= TimeAmount(configuration.idleTimeout) {
            return self.closeNow(code: .goingAway, reason: "idle timeout", reconnect: true)
        }
        if now - self.lastPing >= TimeAmount(configuration.pingInterval) {
            self.lastPing = now
            self.write(WebSocketFrameEncoding.controlFrame(opcode: 0x9, payload: ByteBuffer(), allocator: self.allocator))
            self.flushReplies()
        }
    }

    /// Sends `disconnect` and a close frame, then closes once the client answers (or at the
    /// close deadline).
    func disconnect(code: CloseCode, reason: String, reconnect: Bool) {
        self.end(with: self.closeFrames(code: code, reason: reason, reconnect: reconnect), awaitPeer: true)
    }

    /// For violations, dead peers and idle clients: `disconnect` and a close frame, then close
    /// once they are sent (or at the close deadline) without waiting for the client's answer.
    private func closeNow(code: CloseCode, reason: String, reconnect: Bool) {
        self.end(with: self.closeFrames(code: code, reason: reason, reconnect: reconnect), awaitPeer: false)
    }

    private func closeFrames(code: CloseCode, reason: String, reconnect: Bool) -> [ByteBuffer] {
        [
            Self.encode(.disconnect(code: code, reason: reason, reconnect: reconnect), id: nil),
            WebSocketFrameEncoding.closeFrame(code: code.rawValue, reason: reason, allocator: self.allocator),
        ]
    }

    private func failConnection(_ code: CloseCode, _ reason: String) {
        self.hub.metrics.protocolClose()
        // A client that breaks the protocol would only break it again.
        self.closeNow(code: code, reason: reason, reconnect: false)
    }
}

extension ClientFrame {
    /// Frames that send messages, which count against the per-connection publish rate.
    fileprivate var isRateLimited: Bool {
        switch self {
        case .publish, .direct, .custom: true
        case .auth, .ping, .subscribe, .unsubscribe, .presence, .presenceUpdate: false
        }
    }
}
