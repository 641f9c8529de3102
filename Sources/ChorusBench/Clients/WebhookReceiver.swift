import NIOCore
import NIOHTTP1
import NIOPosix

/// A local HTTP endpoint for a hub's webhook consumer (`chorus bench events --consumer webhook`):
/// answers every POST `200` at once and counts it on its loop's tally, timed by the stamp the
/// event's data carries (publish → delivered to the consumer).
enum WebhookReceiver {
    /// Listens on 127.0.0.1, a free port; the channel's `localAddress` says which.
    static func listen(on loops: LoopTallies) async throws -> any Channel {
        let tallies = loops.tallies
        return try await ServerBootstrap(group: loops.group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let tally = tallies.first { $0.eventLoop === channel.eventLoop }!
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(DeliveryHandler(tally: tally.value))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    private final class DeliveryHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        private let tally: LoopTally
        private var body = ByteBuffer()
        private var keepAlive = true

        init(tally: LoopTally) {
            self.tally = tally
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch Self.unwrapInboundIn(data) {
            case .head(let head):
                self.keepAlive = head.isKeepAlive
                self.body.clear()
            case .body(var part):
                self.body.writeBuffer(&part)
            case .end:
                let now = NIODeadline.now().uptimeNanoseconds
                self.tally.figures.deliveries += 1
                self.tally.figures.lastDeliveryNanoseconds = now
                if let stamp = BenchStamp.find(in: self.body, at: self.body.readerIndex, length: self.body.readableBytes) {
                    LatencyHistogram.record(&self.tally.figures.latency, sent: stamp.sentNanoseconds, received: now)
                } else {
                    self.tally.figures.errors.add("a webhook delivery without the stamp of its event")
                }
                var headers = HTTPHeaders([("Content-Length", "0")])
                if !self.keepAlive { headers.add(name: "Connection", value: "close") }
                context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                let keepAlive = self.keepAlive
                context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                    if !keepAlive { context.close(promise: nil) }
                }
            }
        }
    }
}
