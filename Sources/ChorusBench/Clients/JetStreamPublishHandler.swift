import NIOCore

/// One NATS connection publishing to a JetStream stream, one message at a time, each with a
/// `Nats-Msg-Id` (JetStream's idempotency key) and a reply subject on which the stream
/// acknowledges it once stored: `{"stream":…,"seq":…}`, or `{"error":…}`.
final class JetStreamPublishHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var loop: DurablePublishLoop
    private let subjectPrefix: String
    private let ready: EventLoopPromise<Void>
    private var pending = ByteBuffer()
    private var isReady = false

    init(loop: DurablePublishLoop, subjectPrefix: String, ready: EventLoopPromise<Void>) {
        self.loop = loop
        self.subjectPrefix = subjectPrefix
        self.ready = ready
    }

    private var inbox: String { "_INBOX.bench\(self.loop.source)" }

    func channelActive(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 256)
        NATSWire.connect(into: &buffer)
        NATSWire.subscribe(self.inbox + ".*", sid: "1", into: &buffer)
        // The server's PONG says the CONNECT and SUB were taken.
        NATSWire.ping(into: &buffer)
        context.writeAndFlush(Self.wrapOutboundOut(buffer), promise: nil)
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is DurablePublishStart else { return context.fireUserInboundEventTriggered(event) }
        self.send(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = Self.unwrapInboundIn(data)
        self.pending.writeBuffer(&buffer)
        let operations: [NATSWire.Inbound]
        do {
            operations = try NATSWire.consume(from: &self.pending)
        } catch {
            self.fail(context: context, error)
            return
        }
        for operation in operations {
            switch operation {
            case .ping:
                var pong = context.channel.allocator.buffer(capacity: 8)
                NATSWire.pong(into: &pong)
                context.writeAndFlush(Self.wrapOutboundOut(pong), promise: nil)
            case .pong where !self.isReady:
                self.isReady = true
                self.ready.succeed(())
            case .message(_, _, _, let payload):
                let text = String(buffer: payload)
                self.loop.answered(error: text.contains(#""error""#) ? "JetStream: \(text.prefix(120))" : nil)
                self.send(context: context)
            case .error(let message):
                self.fail(context: context, BenchError("NATS: -ERR \(message)"))
            case .info, .ok, .pong:
                break
            }
        }
        self.pending.discardReadBytes()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.fail(context: context, error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !self.isReady { self.ready.fail(BenchError("NATS: closed before the connection was ready")) }
        if self.loop.tally.sending { self.loop.tally.figures.closedByServer += 1 }
        context.fireChannelInactive()
    }

    private func fail(context: ChannelHandlerContext, _ error: any Error) {
        if self.isReady { self.loop.tally.figures.errors.add("\(error)") } else { self.ready.fail(error) }
        self.isReady = true
        context.close(promise: nil)
    }

    private func send(context: ChannelHandlerContext) {
        guard let (type, id) = self.loop.next() else { return }
        var buffer = context.channel.allocator.buffer(capacity: self.loop.payload.readableBytes + 128)
        NATSWire.publish("\(self.subjectPrefix)\(type)", reply: "\(self.inbox).\(self.loop.sequence)", messageID: id, payload: self.loop.payload, into: &buffer)
        context.writeAndFlush(Self.wrapOutboundOut(buffer), promise: nil)
    }
}
