import ChorusCore
import Logging
import NIOCore
import NIOWebSocket

/// One WebSocket client: the transport of protocol v1 (or v1.1, when its upgrade asked for it).
/// It parses RFC 6455 frames, answers pings, authenticates, applies rate limits, keeps the
/// backlog and the close handshake, and receives fan-out bytes from its ``LoopShard``; every
/// other protocol frame goes to the ``ConnectionFeature`` that serves its `type` (pub/sub,
/// history, direct, custom frames).
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
    let acceptsBinary: Bool
    var subscriptions = SubscriptionSet()
    var filteredPatterns: Set<TopicPattern> = []
    private(set) var access: TopicAccess?
    /// Made on the first publish (most connections never publish); stays nil when unlimited.
    private var publishThrottle: PublishThrottleBox?
    private var subscribeThrottle: PublishThrottleBox?
    var lastDeliveredSequence: UInt64 = 0
    /// Answers promised and not written yet (publishes to history topics wait for their commit).
    private var answersPending = 0
    private(set) var isShuttingDown = false
    var flushPending = false

    /// What the upgrade request asked for (token, `?topic=`); dropped once acted on.
    private var request: ConnectRequest?
    let output: ConnectionOutput
    private var authState = AuthState.none
    /// Negotiated at the upgrade: how `error` and `disconnect` are spelled, and whether
    /// `connected` comes first. (Next to `authState`, in padding an idle connection has anyway.)
    let version: ProtocolVersion
    private var expiresAt: Int64?
    private var parser: WebSocketFrameParser
    private var assembler: WebSocketMessageAssembler
    /// Replays of history topics and patterns, and their seams with live messages (``HistoryFeature``).
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

    init(hub: Hub, shard: LoopShard, request: ConnectRequest, version: ProtocolVersion) {
        self.hub = hub
        self.shard = shard
        self.request = request
        self.acceptsBinary = request.acceptsBinary
        self.version = version
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
            if self.version != .v1 {
                if self.mayAct {
                    self.reply(.connected(client: self.info.client, user: nil, expiresAt: nil), id: nil)
                } else {
                    // `connected` means usable: on a hub that needs a token it waits for a successful `auth`.
                    self.replyError(
                        ProtocolError(.unauthorized, "this hub needs a token: connect with one, or send an 'auth' frame", reason: .tokenRequired),
                        id: nil
                    )
                }
            }
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
                self.output.finish([WebSocketFrameEncoding.closeFrame(code: code.rawValue, reason: "", allocator: self.allocator)], closeWhenFlushed: true, lingering: true)
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
        let decoded = text ? self.hub.frameDecoder.decode(data) : self.hub.frameDecoder.decodeBinary(data)
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
        guard let route = self.hub.features.route(for: frame) else {
            return self.replyError(frame.unservedError, id: id)
        }
        if let limit = route.limit, !self.admit(limit, id: id) { return }
        route.feature.receive(frame, id: id, on: self)
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
            let message = subscribing ? "subscribing far over the rate limit" : "publishing far over the rate limit"
            self.closeNow(code: .rateLimited, reason: .rateLimited, message: message, reconnect: false)
        }
        return false
    }

    /// For an answer that comes later, from any thread (a publish to a history topic waits for
    /// its commit). Counted until written: a shutdown sends `disconnect` only after every such
    /// answer, so nothing is stored without its ack.
    /// A frame the shard fans out that is not a message (a presence diff, a signal).
    func enqueue(frame: ByteBuffer, flush: Bool) -> Bool {
        !self.closing && self.write(frame, flush: flush)
    }

    func answerLater(id: RawJSON?) -> @Sendable (Result<ServerFrame, ProtocolError>) -> Void {
        self.answersPending += 1
        let loop = self.shard.eventLoop
        let connection = NIOLoopBound(self, eventLoop: loop)
        return { result in
            if loop.inEventLoop {
                connection.value.answer(result, id: id)
            } else {
                loop.execute { connection.value.answer(result, id: id) }
            }
        }
    }

    private func answer(_ result: Result<ServerFrame, ProtocolError>, id: RawJSON?) {
        self.answersPending -= 1
        switch result {
        case .success(let frame): self.reply(frame, id: id)
        case .failure(let error): self.replyError(error, id: id)
        }
        self.flushReplies()
        if self.isShuttingDown, self.answersPending == 0 {
            self.shutDown()
        }
    }

    /// Whose idempotency keys this connection's publishes use: the user's, shared with its
    /// other connections and the HTTP API; an anonymous connection has only its own.
    var publisher: String {
        self.info.user.map { "user:" + $0 } ?? "client:" + self.info.client
    }

    /// Shutdown: new publishes are refused (`unavailable`), and `disconnect` and 1001 wait until
    /// every answer promised is written (``answerLater(id:)``).
    func shutDown() {
        self.isShuttingDown = true
        if self.answersPending == 0 {
            self.disconnect(code: .goingAway, reason: .shutdown, message: "hub shutting down", reconnect: true)
        }
    }

    func connectionClosed() {
        self.hub.features.closed(self)
    }

    // MARK: Connecting

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
                        return self.closeNow(code: .rateLimited, reason: .tooManyConnections, message: error.message, reconnect: true)
                    }
                    self.info.user = user
                    self.shard.setUser(user, of: self)
                }
                let wasUsable = self.mayAct
                self.access = TopicAccess.make(for: identity, configuration: self.hub.configuration)
                self.expiresAt = identity.expiresAt
                self.authState = .authenticated
                self.parser.maxFrameSize = self.hub.configuration.maxMessageSize
                if !atConnect, !wasUsable, self.version != .v1 {
                    // The `auth` that makes a v1.1 connection usable: its `connected` comes now.
                    self.reply(.connected(client: self.info.client, user: self.info.user, expiresAt: identity.expiresAt), id: nil)
                }
                // v1.1 answers the upgrade's token with `connected`, the connection's first frame.
                let connected = atConnect && self.version != .v1
                self.reply(
                    connected
                        ? .connected(client: self.info.client, user: self.info.user, expiresAt: identity.expiresAt)
                        : .authSuccess(client: self.info.client, user: self.info.user, expiresAt: identity.expiresAt),
                    id: id
                )
            }
        case .failure(let error):
            self.replyError(error, id: id)
            self.flushReplies()
            // A bad token is final (4001): the client must get a new one.
            return self.disconnect(code: .tokenInvalid, reason: error.reason ?? .tokenInvalid, message: error.message, reconnect: false)
        }
        if atConnect {
            self.subscribeRequestedTopics()
        }
        self.flushReplies()
    }

    // MARK: Writing

    /// Answers the client (features answer their frames here); sent at the end of the read
    /// burst, with the other answers.
    func reply(_ frame: ServerFrame, id: RawJSON?) {
        self.write(Self.encode(frame, id: id, version: self.version))
    }

    /// A server frame as one WebSocket text frame, in the connection's protocol version.
    static func encode(_ frame: ServerFrame, id: RawJSON?, version: ProtocolVersion) -> ByteBuffer {
        WebSocketFrameEncoding.textFrame(allocator: Self.allocator, capacity: frame.sizeHint) { buffer in
            frame.write(into: &buffer, id: id, version: version)
        }
    }

    /// Answers with an `error` frame, counted in the metrics by its code.
    func replyError(_ error: ProtocolError, id: RawJSON?) {
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
            return self.disconnect(code: .tokenInvalid, reason: .tokenExpired, message: "token expired", reconnect: true)
        }
        let configuration = self.hub.configuration
        if now - self.lastInbound >= TimeAmount(configuration.idleTimeout) {
            return self.closeNow(code: .goingAway, reason: .idleTimeout, message: "idle timeout", reconnect: true)
        }
        if now - self.lastPing >= TimeAmount(configuration.pingInterval) {
            self.lastPing = now
            self.write(WebSocketFrameEncoding.controlFrame(opcode: 0x9, payload: ByteBuffer(), allocator: self.allocator))
            self.flushReplies()
        }
    }

    /// Sends `disconnect` and a close frame, then closes once the client answers (or at the
    /// close deadline).
    func disconnect(code: CloseCode, reason: ReasonCode, message: String, reconnect: Bool) {
        self.end(with: self.closeFrames(code: code, reason: reason, message: message, reconnect: reconnect), awaitPeer: true)
    }

    /// For violations, dead peers and idle clients: `disconnect` and a close frame, then close
    /// once they are sent (or at the close deadline) without waiting for the client's answer.
    private func closeNow(code: CloseCode, reason: ReasonCode, message: String, reconnect: Bool) {
        self.end(with: self.closeFrames(code: code, reason: reason, message: message, reconnect: reconnect), awaitPeer: false)
    }

    private func closeFrames(code: CloseCode, reason: ReasonCode, message: String, reconnect: Bool) -> [ByteBuffer] {
        [
            Self.encode(.disconnect(code: code, reason: reason, message: message, reconnect: reconnect), id: nil, version: self.version),
            WebSocketFrameEncoding.closeFrame(code: code.rawValue, reason: message, allocator: self.allocator),
        ]
    }

    private func failConnection(_ code: CloseCode, _ message: String) {
        self.hub.metrics.protocolClose()
        // A client that breaks the protocol would only break it again.
        self.closeNow(code: code, reason: code == .messageTooLarge ? .messageTooLarge : .protocolError, message: message, reconnect: false)
    }
}
