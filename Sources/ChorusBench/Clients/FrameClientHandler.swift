import NIOCore

/// Tells an open ``FrameClientHandler`` connection to begin its part of the run.
struct FrameClientStart {}

/// What one Chorus WebSocket connection of a mode does with its text frames (signalling peers,
/// sync writers, the snapshot reader); ``FrameClientHandler`` does the upgrade and the framing.
protocol FrameClient: AnyObject {
    /// The upgrade was answered `101`.
    func upgraded(_ connection: FrameConnection)
    /// One text frame's payload.
    func received(_ payload: ByteBuffer, _ connection: FrameConnection)
    /// The run's measured part begins (``FrameClientStart``).
    func start(_ connection: FrameConnection)
    /// The connection ended: `error` says why when it did not end normally.
    func ended(error: String?)
}

/// The channel of one ``FrameClient``, for it to send on.
struct FrameConnection {
    let context: ChannelHandlerContext

    /// Sends `payload` as one text frame, at once.
    func send(_ payload: ByteBuffer) {
        let frame = WebSocketWire.clientFrame(opcode: WebSocketWire.text, payload: payload, allocator: self.context.channel.allocator)
        self.context.writeAndFlush(NIOAny(frame), promise: nil)
    }

    func close() {
        self.context.close(promise: nil)
    }
}

/// A WebSocket client connection written against the bytes, as the subscribers are: the
/// upgrade, then each text frame to its ``FrameClient``; pings are answered, a close ends it.
final class FrameClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let endpoint: EndpointTemplate
    /// Sent as `Authorization: Bearer` with the upgrade (nil: none).
    private let token: String?
    private let client: any FrameClient
    private var response = UpgradeResponse()
    private var frames = InboundFrames()
    private var error: String?

    init(endpoint: EndpointTemplate, token: String?, client: any FrameClient) {
        self.endpoint = endpoint
        self.token = token
        self.client = client
    }

    func channelActive(context: ChannelHandlerContext) {
        let request = UpgradeRequest.make(endpoint: self.endpoint, topic: "", token: self.token, allocator: context.channel.allocator)
        context.writeAndFlush(Self.wrapOutboundOut(request), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = Self.unwrapInboundIn(data)
        let connection = FrameConnection(context: context)
        if !self.response.isComplete {
            do {
                guard let rest = try self.response.receive(&buffer, expecting: 101) else { return }
                buffer = rest
                self.client.upgraded(connection)
            } catch {
                self.error = error.message
                context.close(promise: nil)
                return
            }
        }
        self.frames.append(buffer)
        self.frames.drain { header, frame, index in
            switch header.opcode {
            case WebSocketWire.text:
                self.client.received(frame.getSlice(at: index, length: header.payloadLength) ?? ByteBuffer(), connection)
            case WebSocketWire.ping:
                let payload = frame.getSlice(at: index, length: header.payloadLength) ?? ByteBuffer()
                context.writeAndFlush(Self.wrapOutboundOut(WebSocketWire.clientFrame(opcode: WebSocketWire.pong, payload: payload, allocator: context.channel.allocator)), promise: nil)
            case WebSocketWire.close:
                context.close(promise: nil)
                return false
            default:
                break
            }
            return true
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is FrameClientStart else { return context.fireUserInboundEventTriggered(event) }
        self.client.start(FrameConnection(context: context))
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.client.ended(error: self.error ?? (self.response.isComplete ? nil : "closed by the server during the upgrade"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.error = "\(error)"
        context.close(promise: nil)
    }
}
