import NIOCore

/// One subscriber connection, WebSocket or event stream, written against the bytes: it sends the
/// upgrade, waits for the answer (and for Chorus, `auth_success` and `subscribed`), then counts
/// what arrives. Probes parse each delivery for its stamp; the others only hop from frame header
/// to frame header (or from line to line), so that the generator stays cheap next to the server.
final class SubscriberHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        case awaitingHead, awaitingAuth, awaitingSubscribed, streaming, finished
    }

    private let endpoint: EndpointTemplate
    private let serverProtocol: ServerProtocol
    private let token: String?
    private let role: SubscriberRole
    private let tally: LoopTally
    private let opened: EventLoopPromise<Void>
    private let openTimeout: TimeAmount
    private var phase = Phase.awaitingHead
    private var response = UpgradeResponse()
    private var frames = InboundFrames()
    private var eventLines = SSEDataLines()
    private var lastSequence: [Int] = []
    /// When the subscribe (or join) frame was sent.
    private var joinedAt: UInt64 = 0
    private var timeout: Scheduled<Void>?

    init(
        endpoint: EndpointTemplate, serverProtocol: ServerProtocol, token: String?, role: SubscriberRole,
        tally: LoopTally, opened: EventLoopPromise<Void>, openTimeout: TimeAmount
    ) {
        self.endpoint = endpoint
        self.serverProtocol = serverProtocol
        self.token = token
        self.role = role
        self.tally = tally
        self.opened = opened
        self.openTimeout = openTimeout
    }

    func channelActive(context: ChannelHandlerContext) {
        let request = UpgradeRequest.make(endpoint: self.endpoint, topic: self.role.topic, token: self.token, allocator: context.channel.allocator)
        context.writeAndFlush(Self.wrapOutboundOut(request), promise: nil)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.timeout = context.eventLoop.scheduleTask(in: self.openTimeout) {
            let (handler, context) = loopBound.value
            handler.fail(context: context, "no subscription within \(handler.openTimeout.nanoseconds / 1_000_000) ms")
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = Self.unwrapInboundIn(data)
        if self.phase == .awaitingHead {
            do {
                guard let rest = try self.response.receive(&buffer, expecting: UpgradeRequest.expectedStatus(for: self.endpoint)) else { return }
                buffer = rest
                self.upgraded(context: context)
            } catch {
                return self.fail(context: context, error.message)
            }
        }
        guard buffer.readableBytes > 0 else { return }
        self.tally.figures.bytes += buffer.readableBytes
        let deliveredBefore = self.tally.figures.deliveries
        defer {
            // Only subscribers that read at once can say when the last delivery arrived.
            if !self.role.lazy && self.tally.figures.deliveries != deliveredBefore {
                self.tally.figures.lastDeliveryNanoseconds = NIODeadline.now().uptimeNanoseconds
            }
        }
        switch self.endpoint.scheme {
        case .ws:
            self.frames.append(buffer)
            self.frames.drain { header, frame, payloadIndex in
                self.receiveFrame(context: context, header: header, frame: frame, payloadIndex: payloadIndex)
            }
        case .http:
            self.eventLines.scan(buffer) { line, index, length in
                self.delivered(line, index: index, length: length)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        switch self.phase {
        case .streaming:
            self.tally.figures.closedByServer += 1
        case .awaitingHead, .awaitingAuth, .awaitingSubscribed:
            self.settle(.failure(BenchError("closed by the server before the subscription was confirmed")))
        case .finished:
            break
        }
        self.phase = .finished
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.fail(context: context, "\(error)")
    }

    // MARK: Opening

    private func upgraded(context: ChannelHandlerContext) {
        if self.endpoint.scheme == .ws && self.serverProtocol == .chorus {
            if self.token != nil {
                self.phase = .awaitingAuth
            } else {
                self.authenticated(context: context)
            }
        } else {
            self.subscribed(context: context)
        }
    }

    private func authenticated(context: ChannelHandlerContext) {
        guard self.role.subscribes else { return self.subscribed(context: context) }
        if !self.endpoint.hasTopic || self.role.subscription != .topic {
            self.joinedAt = NIODeadline.now().uptimeNanoseconds
            let stamp = self.role.joinStampSource.map { BenchStamp(source: $0, sequence: 1, sentNanoseconds: self.joinedAt) }
            let frame = self.role.subscription.frame(topic: self.role.topic, stamp: stamp, limit: self.role.presenceStateLimit)
            let wire = WebSocketWire.clientFrame(opcode: WebSocketWire.text, payload: frame, allocator: context.channel.allocator)
            context.writeAndFlush(Self.wrapOutboundOut(wire), promise: nil)
        }
        self.phase = .awaitingSubscribed
    }

    private func subscribed(context: ChannelHandlerContext) {
        self.phase = .streaming
        self.settle(.success(()))
        if self.role.closeWhenSubscribed {
            self.phase = .finished
            if self.endpoint.scheme == .ws {
                let close = WebSocketWire.clientFrame(opcode: WebSocketWire.close, payload: ByteBuffer(bytes: [0x03, 0xE8]), allocator: context.channel.allocator)
                context.writeAndFlush(Self.wrapOutboundOut(close), promise: nil)
            }
            context.close(promise: nil)
        } else if self.role.lazy {
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
            self.tally.lazyChannels.append(context.channel)
        }
    }

    private func fail(context: ChannelHandlerContext, _ message: String) {
        if self.phase == .streaming {
            self.tally.figures.errors.add(message)
        }
        self.settle(.failure(BenchError(message)))
        self.phase = .finished
        context.close(promise: nil)
    }

    private func settle(_ result: Result<Void, BenchError>) {
        guard let timeout = self.timeout else { return }
        timeout.cancel()
        self.timeout = nil
        self.opened.completeWith(result.mapError { $0 as any Error })
    }

    // MARK: Receiving

    /// Handles one complete WebSocket frame; false stops the frame loop (the connection closed).
    private func receiveFrame(context: ChannelHandlerContext, header: WebSocketWire.FrameHeader, frame: ByteBuffer, payloadIndex: Int) -> Bool {
        switch header.opcode {
        case WebSocketWire.ping:
            let payload = frame.getSlice(at: payloadIndex, length: header.payloadLength) ?? ByteBuffer()
            let pong = WebSocketWire.clientFrame(opcode: WebSocketWire.pong, payload: payload, allocator: context.channel.allocator)
            context.writeAndFlush(Self.wrapOutboundOut(pong), promise: nil)
            return true
        case WebSocketWire.close:
            if self.phase != .streaming {
                self.fail(context: context, "the server closed the WebSocket before the subscription was confirmed")
            } else {
                context.close(promise: nil)
            }
            return false
        case WebSocketWire.pong:
            return true
        default:
            break
        }
        switch self.phase {
        case .streaming:
            self.delivered(frame, index: payloadIndex, length: header.payloadLength)
        case .awaitingAuth, .awaitingSubscribed:
            self.controlReply(context: context, frame: frame, index: payloadIndex, length: header.payloadLength)
        case .awaitingHead, .finished:
            return false
        }
        return self.phase != .finished
    }

    private static let authSuccess: [UInt8] = Array(#""type":"auth_success""#.utf8)

    /// A Chorus frame while opening: `auth_success`, the join's answer, or an error to report.
    private func controlReply(context: ChannelHandlerContext, frame: ByteBuffer, index: Int, length: Int) {
        guard let view = frame.getSlice(at: index, length: length) else { return }
        if self.phase == .awaitingAuth, view.firstIndex(of: Self.authSuccess) != nil {
            self.authenticated(context: context)
        } else if self.phase == .awaitingSubscribed, self.role.subscription.confirms(view) {
            self.subscribed(context: context)
        } else {
            self.fail(context: context, "unexpected frame while subscribing: \(String(buffer: view).prefix(160))")
        }
    }

    private func delivered(_ buffer: ByteBuffer, index: Int, length: Int) {
        self.tally.figures.deliveries += 1
        guard self.role.probe else { return }
        let now = NIODeadline.now().uptimeNanoseconds
        for stamp in self.role.subscription.stamps(in: buffer, at: index, length: length, joinedAt: self.joinedAt) {
            LatencyHistogram.record(&self.tally.figures.latency, sent: stamp.sentNanoseconds, received: now)
            self.tally.figures.probeReceived[self.role.topicIndex, default: 0] += 1
            self.checkOrder(stamp)
        }
    }

    /// Counts a stamp that is not after the last one seen from its source as reordered.
    private func checkOrder(_ stamp: BenchStamp) {
        if stamp.source >= self.lastSequence.count {
            self.lastSequence += Array(repeating: 0, count: stamp.source + 1 - self.lastSequence.count)
        }
        if stamp.sequence <= self.lastSequence[stamp.source] {
            self.tally.figures.reordered += 1
        } else {
            self.lastSequence[stamp.source] = stamp.sequence
        }
    }
}
