import ChorusCore
import NIOCore
import NIOWebSocket

extension ChorusClient {
    /// One WebSocket connection's state.
    struct Link {
        let channel: any Channel
        let version: ProtocolVersion
        let generation: Int
        /// When the hub accepted it (its `connected` frame); nil until then.
        var openedAt: ContinuousClock.Instant?
        /// The close code of the hub's close frame, when it sent one.
        var closeCode: UInt16?
        /// The hub's `disconnect` frame, when it sent one.
        var disconnect: DisconnectNotice?
        /// A message arriving in fragments, and whether it is binary.
        var fragments: ByteBuffer?
        var fragmentsBinary = false
        /// When the last heartbeat ping went out, and whether its pong is still awaited.
        var lastPing: ContinuousClock.Instant?
        var pingOutstanding = false
    }

    /// What a request `id` is waiting for.
    enum Pending {
        case request(CheckedContinuation<ServerFrame, any Error>, deadline: ContinuousClock.Instant)
        case subscribe(name: String, resuming: Bool)
        case publish(key: String)
        case heartbeat(sent: ContinuousClock.Instant)
        case presenceJoin(topic: String)
        case syncSubscribe(collection: String)
        case syncMutation(collection: String, mutationID: String)
    }

    /// The connection loop: connect, serve, and on loss do what the close policy and the state
    /// machine say, until the client stops.
    func run() async {
        var generation = 0
        var refreshToken = self.token == nil && self.configuration.tokenProvider != nil
        while !Task.isCancelled {
            if refreshToken {
                guard await self.renewToken() else { return }
                refreshToken = false
            }
            generation += 1
            let endpoint = self.endpoints[self.endpointIndex % self.endpoints.count]
            var upFor: Duration?
            var action = CloseAction.reconnect
            do {
                let opened = try await HubSocket.open(
                    endpoint,
                    token: self.token,
                    group: self.group,
                    connectTimeout: .milliseconds(Int64(self.configuration.connectTimeout / .milliseconds(1)))
                )
                self.link = Link(channel: opened.channel.channel, version: opened.version, generation: generation)
                if opened.version == .v1 { self.opened() }
                try await opened.channel.executeThenClose { inbound, _ in
                    for try await frame in inbound {
                        guard self.receive(frame) else { break }
                        while self.readingPaused { try await Task.sleep(for: .milliseconds(5)) }
                    }
                }
            } catch {
                // A connection that could not be made, or that failed: both mean "try again".
            }
            if let link = self.link {
                upFor = link.openedAt.map { ContinuousClock.now - $0 }
                action = CloseAction.after(closeCode: link.closeCode, disconnect: link.disconnect)
            }
            self.connectionEnded()
            if Task.isCancelled { return }
            switch self.machine.lost(action, upFor: upFor, random: Double.random(in: 0..<1)) {
            case .retry(let delay, let refresh):
                self.publishState()
                self.endpointIndex += 1
                do {
                    try await Task.sleep(for: delay)
                    while self.reconnectHeld { try await Task.sleep(for: .milliseconds(5)) }
                } catch {
                    return
                }
                refreshToken = refresh
            case .stop:
                self.publishState()
                self.stop(ChorusClientError(.disconnected, "the hub ended the connection for good"))
                return
            case .giveUp:
                self.lastError = ChorusClientError(.reconnectFailed, "no connection after \(self.machine.attempt) attempts")
                self.publishState()
                self.stop(self.lastError!)
                return
            case .connect, .none:
                return
            }
        }
    }

    /// Gets a new token; false (and the client stops in `error`) when there is no way to.
    func renewToken() async -> Bool {
        guard let provider = self.configuration.tokenProvider else {
            self.fail(ChorusClientError(.tokenExpired, "the token expired and there is no token provider"))
            return false
        }
        do {
            let token = try await provider()
            guard !Task.isCancelled else { return false }
            self.token = token
            return true
        } catch {
            self.fail(ChorusClientError(.tokenFailed, "the token provider failed: \(error)"))
            return false
        }
    }

    func fail(_ error: ChorusClientError) {
        self.lastError = error
        self.machine.fail()
        self.publishState()
        self.stop(error)
    }

    /// The hub accepted the connection: restore subscriptions, send the queue, then say so.
    func opened() {
        guard var link = self.link, link.openedAt == nil else { return }
        link.openedAt = .now
        self.link = link
        if self.hasConnectedBefore { self.stats.reconnections += 1 }
        self.hasConnectedBefore = true
        for name in self.subscriptions.keys.sorted() { self.sendSubscribe(name) }
        for name in self.presences.keys.sorted() { self.sendPresenceJoin(name) }
        self.syncOpened()
        self.pump()
        self.machine.opened()
        self.publishState()
        self.startTicker(generation: link.generation)
    }

    /// Handles one WebSocket frame; false when the connection is over.
    func receive(_ frame: WebSocketFrame) -> Bool {
        guard var link = self.link else { return false }
        switch frame.opcode {
        case .text where frame.fin && link.fragments == nil, .binary where frame.fin && link.fragments == nil:
            self.handle(frame.unmaskedData, binary: frame.opcode == .binary)
        case .text, .binary:
            link.fragments = frame.unmaskedData
            link.fragmentsBinary = frame.opcode == .binary
            self.link = link
        case .continuation:
            guard var text = link.fragments else { return true }
            var data = frame.unmaskedData
            text.writeBuffer(&data)
            link.fragments = frame.fin ? nil : text
            self.link = link
            if frame.fin { self.handle(text, binary: link.fragmentsBinary) }
        case .ping:
            self.writeFrame(WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData))
        case .connectionClose:
            var data = frame.unmaskedData
            link.closeCode = data.readInteger(as: UInt16.self) ?? 1005
            self.link = link
            // Answer the close, then the hub closes the socket.
            var reply = link.channel.allocator.buffer(capacity: 2)
            reply.writeInteger(link.closeCode!)
            self.writeFrame(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: reply))
            return false
        default:
            break
        }
        return true
    }

    /// Handles one message: a text frame's JSON, or a binary frame (a binary message).
    func handle(_ text: ByteBuffer, binary: Bool) {
        self.stats.messagesReceived += 1
        self.stats.bytesReceived += text.readableBytes
        let frame: InboundFrame
        do {
            frame = try binary ? InboundFrame.decodeBinary(text) : InboundFrame.decode(text)
        } catch {
            return  // Not a frame this client can read; the hub's own frames always are.
        }
        switch frame {
        case .message(let message):
            self.route(message)
        case .syncChange(let change):
            self.syncChanged(change)
        case .reply(let reply, let id):
            if let id, let waiting = self.pending.removeValue(forKey: Int(id)) {
                self.answer(waiting, with: reply)
            } else {
                self.notice(reply)
            }
        }
    }

    /// A frame that answers no request.
    func notice(_ frame: ServerFrame) {
        switch frame {
        case .connected(let client, let user, let expiresAt):
            self.session = Session(client: client, user: user, expiresAt: expiresAt)
            self.opened()
        case .disconnect:
            self.link?.disconnect = frame.disconnectNotice
            self.yieldNotice(frame)
        case .error(let error) where error.reason == .tokenRequired:
            // The hub needs a token and this connection came without one: renew and come back.
            self.link?.disconnect = DisconnectNotice(code: CloseCode.tokenInvalid.rawValue, reason: .tokenExpired, message: error.message, reconnect: true)
            if self.configuration.tokenProvider == nil {
                self.fail(ChorusClientError(error))
            }
            self.link?.channel.close(promise: nil)
        case .presenceDiff(let topic, let joins, let leaves):
            self.presenceDiff(topic, joins: joins, leaves: leaves)
        case .signal(let from, let data):
            self.signalStreams.yield(ChorusSignal(from: from, data: data))
        case .custom, .error:
            self.yieldNotice(frame)
        default:
            break
        }
    }

    func yieldNotice(_ frame: ServerFrame) {
        self.noticeStreams.yield(frame)
    }

    func answer(_ waiting: Pending, with reply: ServerFrame) {
        switch waiting {
        case .request(let continuation, _):
            if let error = ChorusClientError(reply: reply) {
                continuation.resume(throwing: error)
            } else {
                continuation.resume(returning: reply)
            }
        case .subscribe(let name, let resuming):
            self.subscribeAnswered(name, reply: reply, resuming: resuming)
        case .publish(let key):
            self.publishAnswered(key, reply: reply)
        case .heartbeat(let sent):
            self.link?.pingOutstanding = false
            self.stats.recordLatency(ContinuousClock.now - sent)
        case .presenceJoin(let topic):
            self.presenceJoinAnswered(topic, reply: reply)
        case .syncSubscribe(let collection):
            self.syncSubscribeAnswered(collection, reply: reply)
        case .syncMutation(let collection, let mutationID):
            self.syncMutationAnswered(collection, mutationID: mutationID, reply: reply)
        }
    }

    /// The connection is gone: fail what cannot survive it, keep what the next one resends.
    func connectionEnded() {
        self.link = nil
        self.sentCount = 0
        for (id, waiting) in self.pending {
            switch waiting {
            case .request(let continuation, _):
                continuation.resume(throwing: ChorusClientError(.disconnected, "the connection ended before the reply"))
            case .subscribe(let name, _):
                self.subscriptions[name]?.inFlight = false
            case .publish, .heartbeat, .presenceJoin, .syncSubscribe, .syncMutation:
                break
            }
            self.pending[id] = nil
        }
        self.presenceConnectionEnded()
        self.syncConnectionEnded()
        for name in self.subscriptions.keys {
            if self.subscriptions[name]!.confirmed { self.subscriptions[name]!.hasGap = true }
            self.subscriptions[name]!.confirmed = false
        }
    }

    /// Stops for good: every waiter fails with `error`, streams finish.
    func stop(_ error: ChorusClientError) {
        for (_, waiting) in self.pending {
            if case .request(let continuation, _) = waiting { continuation.resume(throwing: error) }
        }
        self.pending.removeAll()
        let waiters = self.publishWaiters
        self.publishWaiters.removeAll()
        for continuation in waiters.values.joined() { continuation.resume(throwing: error) }
        // The queue file keeps its entries for the next run; in memory they go with the client.
        if self.outbox == nil { _ = self.queue.removeAll() }
        self.stats.queued = self.queue.count
        let subscriptions = self.subscriptions
        self.subscriptions.removeAll()
        for record in subscriptions.values {
            for waiter in record.waiters { waiter.resume(throwing: error) }
            record.streams.finish()
        }
        self.directStreams.finish()
        self.noticeStreams.finish()
        self.signalStreams.finish()
        self.presenceStopped(error)
        self.syncStopped(error)
    }

    /// Sends a request and waits for the reply that carries its `id`.
    func request(_ frame: ClientFrame) async throws -> ServerFrame {
        guard self.link?.openedAt != nil else {
            throw ChorusClientError(.notConnected, "not connected")
        }
        let id = self.newRequestID()
        return try await withCheckedThrowingContinuation { continuation in
            self.pending[id] = .request(continuation, deadline: .now + self.configuration.requestTimeout)
            self.write(frame, id: id)
        }
    }

    func newRequestID() -> Int {
        self.nextRequestID += 1
        return self.nextRequestID
    }

    /// Writes `frame`; with `flush` false it waits for the caller's ``flush()`` (a batch).
    func write(_ frame: ClientFrame, id: Int?, flush: Bool = true) {
        guard let link = self.link else { return }
        var buffer = link.channel.allocator.buffer(capacity: 128)
        frame.write(into: &buffer, id: id)
        self.stats.messagesSent += 1
        self.stats.bytesSent += buffer.readableBytes
        self.writeFrame(WebSocketFrame(fin: true, opcode: frame.isBinary ? .binary : .text, maskKey: .random(), data: buffer), flush: flush)
    }

    func writeFrame(_ frame: WebSocketFrame, flush: Bool = true) {
        // Channel writes are ordered and need no await, so frames leave in the order they are made.
        if flush {
            self.link?.channel.writeAndFlush(frame, promise: nil)
        } else {
            self.link?.channel.write(frame, promise: nil)
        }
    }

    func flush() {
        self.link?.channel.flush()
    }

    /// One task per connection checks request deadlines and sends the heartbeat.
    func startTicker(generation: Int) {
        Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(250))
                guard self.tick(generation: generation) else { return }
            }
        }
    }

    func tick(generation: Int) -> Bool {
        guard var link = self.link, link.generation == generation else { return false }
        let now = ContinuousClock.now
        for (id, waiting) in self.pending {
            if case .request(let continuation, let deadline) = waiting, deadline <= now {
                self.pending[id] = nil
                continuation.resume(throwing: ChorusClientError(.timeout, "no reply within \(self.configuration.requestTimeout)"))
            }
        }
        guard let interval = self.configuration.heartbeatInterval else { return true }
        if link.pingOutstanding, let sent = link.lastPing, now - sent >= min(interval, self.configuration.requestTimeout) {
            // Silence: the connection is dead even if the socket has not noticed.
            link.channel.close(promise: nil)
            return false
        }
        if !link.pingOutstanding, now - (link.lastPing ?? link.openedAt ?? now) >= interval {
            link.lastPing = now
            link.pingOutstanding = true
            self.link = link
            let id = self.newRequestID()
            self.pending[id] = .heartbeat(sent: now)
            self.write(.ping(timestamp: try? RawJSON.parsing(String(Self.nowMilliseconds()))), id: id)
        }
        return true
    }

    /// Drops the connection without a close handshake, as a network failure would (tests).
    func dropConnection() {
        self.link?.channel.close(promise: nil)
    }

    /// Keeps the client offline after a lost connection until released, so a test can change
    /// what the hub holds meanwhile (tests).
    func holdReconnect(_ held: Bool) {
        self.reconnectHeld = held
    }

    /// Stops reading from the socket, as an application too slow to keep up would (tests).
    func pauseReading(_ paused: Bool) {
        self.readingPaused = paused
    }
}
