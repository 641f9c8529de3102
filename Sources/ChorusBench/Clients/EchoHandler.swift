import NIOCore

/// Tells an open echo connection to begin its round trips.
struct EchoStart {}

/// One echo connection: after the upgrade it waits for ``EchoStart``, then keeps `depth`
/// stamped messages in flight, sending a new one for each that comes back, until its loop's
/// tally says stop. The writes of one read are flushed together.
final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let endpoint: EndpointTemplate
    private let source: Int
    private let depth: Int
    private let payloadSize: Int
    private let tally: LoopTally
    private let opened: EventLoopPromise<Void>
    private var response = UpgradeResponse()
    private var frames = InboundFrames()
    private var sequence = 0
    private var pendingFlush = false
    private var failed = false
    /// Reused for each payload before it is framed.
    private var scratch = ByteBuffer()

    init(endpoint: EndpointTemplate, source: Int, depth: Int, payloadSize: Int, tally: LoopTally, opened: EventLoopPromise<Void>) {
        self.endpoint = endpoint
        self.source = source
        self.depth = depth
        self.payloadSize = payloadSize
        self.tally = tally
        self.opened = opened
    }

    func channelActive(context: ChannelHandlerContext) {
        let request = UpgradeRequest.make(endpoint: self.endpoint, topic: "echo\(self.source)", token: nil, allocator: context.channel.allocator)
        context.writeAndFlush(Self.wrapOutboundOut(request), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = Self.unwrapInboundIn(data)
        if !self.response.isComplete {
            do {
                guard let rest = try self.response.receive(&buffer, expecting: 101) else { return }
                buffer = rest
                self.opened.succeed(())
            } catch {
                self.failed = true
                self.opened.fail(error)
                context.close(promise: nil)
                return
            }
        }
        self.frames.append(buffer)
        self.frames.drain { header, frame, index in
            guard header.opcode == WebSocketWire.text else {
                if header.opcode == WebSocketWire.close { context.close(promise: nil) }
                return header.opcode != WebSocketWire.close
            }
            let now = NIODeadline.now().uptimeNanoseconds
            if let stamp = BenchStamp.find(in: frame, at: index, length: header.payloadLength) {
                self.tally.figures.deliveries += 1
                LatencyHistogram.record(&self.tally.figures.latency, sent: stamp.sentNanoseconds, received: now)
            } else {
                self.tally.figures.errors.add("an echoed message without its stamp")
            }
            if self.tally.sending { self.send(context: context, now: now) }
            return true
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if self.pendingFlush {
            self.pendingFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is EchoStart else { return context.fireUserInboundEventTriggered(event) }
        let now = NIODeadline.now().uptimeNanoseconds
        for _ in 0..<self.depth { self.send(context: context, now: now) }
        self.pendingFlush = false
        context.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if self.failed {
            // Already reported.
        } else if !self.response.isComplete {
            self.opened.fail(BenchError("closed by the server during the upgrade"))
        } else if self.tally.sending {
            self.tally.figures.closedByServer += 1
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.tally.figures.errors.add("\(error)")
        context.close(promise: nil)
    }

    private func send(context: ChannelHandlerContext, now: UInt64) {
        self.sequence += 1
        self.scratch.clear()
        BenchStamp(source: self.source, sequence: self.sequence, sentNanoseconds: now).write(into: &self.scratch, size: self.payloadSize)
        let frame = WebSocketWire.clientFrame(opcode: WebSocketWire.text, payload: self.scratch, allocator: context.channel.allocator)
        context.write(Self.wrapOutboundOut(frame), promise: nil)
        self.pendingFlush = true
    }
}
