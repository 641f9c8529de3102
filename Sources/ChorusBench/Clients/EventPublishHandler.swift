import NIOCore
import NIOHTTP1

/// One keep-alive HTTP connection publishing events to a hub's `POST /api/events/publish`,
/// one at a time: each is answered only once it is durable (docs/event-bus.md).
final class EventPublishHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private var loop: DurablePublishLoop
    private let host: String
    private let path: String
    private let apiKey: String?
    /// Event types are PREFIX0, PREFIX1, …
    private let typePrefix: String
    private var status: UInt = 0

    init(loop: DurablePublishLoop, host: String, path: String, apiKey: String?, typePrefix: String) {
        self.loop = loop
        self.typePrefix = typePrefix
        self.host = host
        self.path = path
        self.apiKey = apiKey
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is DurablePublishStart else { return context.fireUserInboundEventTriggered(event) }
        self.send(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let head):
            self.status = head.status.code
        case .body:
            break
        case .end:
            self.loop.answered(error: (200..<300).contains(self.status) ? nil : "HTTP \(self.status)")
            self.send(context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.loop.tally.figures.errors.add("\(error)")
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if self.loop.tally.sending { self.loop.tally.figures.closedByServer += 1 }
        context.fireChannelInactive()
    }

    private func send(context: ChannelHandlerContext) {
        guard let (type, id) = self.loop.next(), let sentAt = self.loop.sentAt else { return }
        var body = context.channel.allocator.buffer(capacity: self.loop.payload.readableBytes + 64)
        body.writeString(#"{"type":"\#(self.typePrefix)\#(type)","event_id":"\#(id)","data":"#)
        // The data is stamped, so that a consumer (`--consumer`) can time publish → delivery.
        BenchStamp(source: self.loop.source, sequence: self.loop.sequence, sentNanoseconds: sentAt).write(into: &body, size: self.loop.payload.readableBytes)
        body.writeString("}")
        var headers = HTTPHeaders([("Host", self.host), ("Content-Type", "application/json"), ("Content-Length", String(body.readableBytes))])
        if let apiKey = self.apiKey { headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        context.write(Self.wrapOutboundOut(.head(HTTPRequestHead(version: .http1_1, method: .POST, uri: self.path, headers: headers))), promise: nil)
        context.write(Self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
    }
}
