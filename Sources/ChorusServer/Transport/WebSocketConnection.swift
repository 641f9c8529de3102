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
    var flushPending = false

    /// What the upgrade request asked for (token, `?topic=`); dropped once acted on.
    private var request: ConnectRequest?
    let output: ConnectionOutput
    private var authState = AuthState.none
    private var expiresAt: Int64?
    private var parser: WebSocketFrameParser
    private var assembler: WebSocketMessageAssembler
    /// Per history topic: live messages at or below `floor` were replayed (or precede this
    /// subscription) and are dropped; while `holding`, newer ones wait in `held` for the replay.
    private var gates: [String: (floor: UInt64, holding: Bool)] = [:]
    private var held: [String: [ByteBuffer]] = [:]
    private var lastInbound = NIODeadline.now()
    private var lastPing = NIODeadline.now()
    var closing = false
    /// Shared: a stored allocator would cost every idle connection its four function pointers.
    private static let allocator = ByteBufferAllocator()
    private var allocator: ByteBufferAllocator { Self.allocator }

    /// How long a hub-initiated close waits for the client's close frame.
    private static let closeGracePeriod = TimeAmount.seconds(2)

    init(hub: Hub, shard: LoopShard, request: ConnectRequest) {
        self.hub = hub
        self.shard = shard
        self.request = request
        self.output = ConnectionOutput(maxBacklog: hub.configuration.maxBacklog)
        self.parser = WebSocketFrameParser(maxFrameSize: hub.configuration.maxMessageSize)
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
        self.lastInbound = .now()
        self.parser.append(Self.unwrapInboundIn(data))
        do throws(WebSocketFrameParser.Failure) {
            while let frame = try self.parser.next() {
                self.receive(frame)
            }
        } catch {
            switch error {
            case .tooLarge: self.failConnection(.messageTooLarge, "frame larger than \(self.hub.configuration.maxMessageSize) bytes")
            case .protocolViolation(let reason): self.failConnection(.protocolError, reason)
            }
        }
    }

    private func receive(_ frame: WebSocketFrame) {
        guard !self.closing || frame.opcode == .connectionClose else { return }
        switch self.assembler.receive(frame) {
        case .message(let text, let data):
            self.handleMessage(text: text, data: data)
        case .ping(let payload):
            self.writeRaw(WebSocketFrameEncoding.controlFrame(opcode: 0xA, payload: payload, allocator: self.allocator))
        case .close(let code):
            // Answer a client-initiated close; if we initiated it, this is the answer we waited for.
            let answer = self.closing ? nil : WebSocketFrameEncoding.closeFrame(code: code.rawValue, reason: "", allocator: self.allocator)
            self.closing = true
            self.output.writeThenClose(answer)
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
            if let topic = pattern.exactTopic?.name {
                self.gates[topic] = nil
                self.held[topic] = nil
            }
            self.reply(.unsubscribed(topic: pattern.text), id: id)
        case .publish(let publish):
            let loop = self.shard.eventLoop
            let connection = NIOLoopBound(self, eventLoop: loop)
            do {
                try self.access.authorizePublish(to: publish.topic)
                try self.hub.publish(
                    topic: publish.topic,
                    event: publish.event,
                    data: publish.data.bytes,
                    from: self.sender,
                    excludingConnection: self.hub.configuration.deliverToPublisher ? nil : self.info.id
                ) { result in
                    // Other topics complete right here; history topics on the store's thread once committed.
                    if loop.inEventLoop {
                        connection.value.acknowledge(result, id: id)
                    } else {
                        loop.execute { connection.value.acknowledge(result, id: id) }
                    }
                }
            } catch {
                self.replyError(error, id: id)
            }
        case .direct(let user, let event, let data):
            do {
                let receipt = try self.hub.send(toUser: user, event: event, data: data.bytes, from: self.sender)
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
                let answer = try handler(CustomFrameContext(hub: self.hub, connection: self.info, type: type, fields: fields))
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
        switch result {
        case .success(let receipt):
            self.reply(.ack(messageID: receipt.messageID, offset: receipt.offset, epoch: receipt.epoch), id: id)
        case .failure(let error):
            self.replyError(error, id: id)
        }
        self.flushReplies()
    }

    // MARK: History

    /// Subscribes to a topic that keeps history, replaying what the client missed when `since`
    /// allows it. The live subscription is already in place: messages that arrive while the
    /// replay is read are held, then those above the replayed position follow it, so there is
    /// no gap and no duplicate at the seam.
    private func subscribe(to topic: Topic, history: HistoryLog, since: RecoveryPosition?, id: RawJSON?) {
        let state = history.committedState(of: topic.name)
        let top = state?.lastOffset ?? 0
        guard case .offset(let from, let epoch)? = since, let state, epoch == state.epoch, from < top else {
            var recovered: Bool?
            if case .offset(let from, let epoch)? = since {
                // Already up to date (or nothing was ever published): nothing is missing.
                recovered = from == top && (epoch == state?.epoch || (state == nil && from == 0))
            } else if since != nil {
                recovered = false  // a time position is for pattern subscriptions
            }
            self.gates[topic.name] = (top, false)
            self.reply(.subscribed(topic: topic.name, offset: top, epoch: state?.epoch, recovered: recovered), id: id)
            return
        }
        self.gates[topic.name] = (top, true)
        let missing = Int(top - from)
        history.read(on: self.shard.eventLoop) { store in
            try store.messages(topic: topic.name, after: from, limit: missing)
        }.assumeIsolated().whenComplete { result in
            guard !self.closing, self.gates[topic.name]?.holding == true else { return }
            let replay = (try? result.get()) ?? []
            // Complete or nothing: a replay that does not start right after `since` (trimmed)
            // or is short would be a partial recovery.
            let complete = replay.count == missing && replay.first?.offset == from + 1
            self.reply(.subscribed(topic: topic.name, offset: top, epoch: state.epoch, recovered: complete), id: id)
            if complete {
                for message in replay {
                    self.output.write(OutboundMessage.encode(message.envelope, sub: nil, for: .webSocket, allocator: self.allocator))
                }
            }
            for bytes in self.held.removeValue(forKey: topic.name) ?? [] {
                self.output.write(bytes)
            }
            self.gates[topic.name] = (top, false)
            self.flushReplies()
        }
    }

    /// Subscribes to a pattern, replaying the retained messages of every matching history topic
    /// newer than `since` (ms), in commit order. Each matching topic is gated as in
    /// ``subscribe(to:history:since:id:)``. Recovery is reported complete only when no matching
    /// topic may have lost messages newer than `since` to trimming.
    private func subscribe(to pattern: TopicPattern, history: HistoryLog, since milliseconds: Int64, id: RawJSON?) {
        let topics = self.hub.historyTopics(matching: pattern).filter { self.access.mayRead($0) }.map(\.name)
        var floors: [String: UInt64] = [:]
        for topic in topics {
            let top = history.committedState(of: topic)?.lastOffset ?? 0
            floors[topic] = top
            self.gates[topic] = (top, true)
        }
        history.read(on: self.shard.eventLoop) { store -> (messages: [StoredMessage], complete: Bool) in
            let messages = try store.messages(topics: topics, newerThan: milliseconds, limit: HistoryLog.maxReplay)
            var complete = messages.count < HistoryLog.maxReplay
            for topic in topics where complete {
                // The oldest message kept is newer than `since` and is not the first: the ones
                // before it may have been newer than `since` too.
                if let oldest = try store.messages(topic: topic, after: 0, limit: 1).first,
                    oldest.offset > 1, oldest.envelope.timestamp > milliseconds
                {
                    complete = false
                }
            }
            return (messages, complete)
        }.assumeIsolated().whenComplete { result in
            guard !self.closing else { return }
            let replay = (try? result.get()) ?? (messages: [], complete: false)
            self.reply(.subscribed(topic: pattern.text, offset: nil, epoch: nil, recovered: replay.complete), id: id)
            for message in replay.messages where message.offset <= floors[message.topic] ?? 0 {
                self.output.write(OutboundMessage.encode(message.envelope, sub: pattern.text, for: .webSocket, allocator: self.allocator))
            }
            for topic in topics where self.gates[topic]?.holding == true {
                for bytes in self.held.removeValue(forKey: topic) ?? [] { self.output.write(bytes) }
                self.gates[topic] = (floors[topic] ?? 0, false)
            }
            self.flushReplies()
        }
    }

    private var sender: MessageSender {
        MessageSender(user: self.info.user, client: self.info.client)
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
                self.replyError(ProtocolError(.badRequest, "invalid topic '\(text)': \(error.description)"), id: nil)
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
        let bytes = WebSocketFrameEncoding.textFrame(allocator: self.allocator, capacity: 128) { buffer in
            frame.write(into: &buffer, id: id)
        }
        self.writeRaw(bytes)
    }

    private func replyError(_ error: ProtocolError, id: RawJSON?) {
        self.hub.metrics.error(error.code)
        self.reply(.error(error), id: id)
    }

    private func writeRaw(_ bytes: ByteBuffer) {
        self.output.write(bytes)
    }

    private func flushReplies() {
        self.output.flush()
    }

    func enqueue(_ bytes: ByteBuffer, of message: OutboundMessage, flush: Bool) -> Bool {
        guard !self.closing else { return false }
        if !self.gates.isEmpty, let offset = message.envelope.offset, let gate = self.gates[message.envelope.topic] {
            if offset <= gate.floor { return false }
            if gate.holding {
                self.held[message.envelope.topic, default: []].append(bytes)
                return false
            }
            // Past the seam: offsets only grow from here on.
            self.gates[message.envelope.topic] = nil
        }
        guard self.output.enqueue(bytes, flush: flush) else {
            // The client is not reading, so a close frame would never reach it: 4008 is what
            // the hub counts and logs, and the client sees the connection end.
            self.hub.metrics.slowConsumerDisconnected()
            self.closing = true
            self.output.abort()
            return false
        }
        return true
    }

    func flush() {
        self.output.flush()
    }

    func sweep(now: NIODeadline) {
        guard !self.closing else { return }
        if let expiresAt = self.expiresAt, WallClock.milliseconds() >= expiresAt {
            return self.disconnect(code: .tokenInvalid, reason: "token expired", reconnect: true)
        }
        let configuration = self.hub.configuration
        if now - self.lastInbound >= TimeAmount(configuration.idleTimeout) {
            return self.closeNow(code: .goingAway, reason: "idle timeout", reconnect: true)
        }
        if now - self.lastPing >= TimeAmount(configuration.pingInterval) {
            self.lastPing = now
            self.writeRaw(WebSocketFrameEncoding.controlFrame(opcode: 0x9, payload: ByteBuffer(), allocator: self.allocator))
            self.flushReplies()
        }
    }

    /// Sends `disconnect` and a close frame, then closes once the client answers (or after a grace period).
    func disconnect(code: CloseCode, reason: String, reconnect: Bool) {
        guard !self.closing, let channel = self.output.context?.channel else { return }
        self.reply(.disconnect(code: code, reason: reason, reconnect: reconnect), id: nil)
        self.writeRaw(WebSocketFrameEncoding.closeFrame(code: code.rawValue, reason: reason, allocator: self.allocator))
        self.flushReplies()
        self.closing = true
        channel.eventLoop.scheduleTask(in: Self.closeGracePeriod) {
            channel.close(promise: nil)
        }
    }

    /// For violations, dead peers and slow consumers: `disconnect` and a close frame, then
    /// close without waiting for the client's answer.
    private func closeNow(code: CloseCode, reason: String, reconnect: Bool) {
        guard !self.closing else { return }
        self.reply(.disconnect(code: code, reason: reason, reconnect: reconnect), id: nil)
        self.closing = true
        self.output.writeThenClose(WebSocketFrameEncoding.closeFrame(code: code.rawValue, reason: reason, allocator: self.allocator))
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
