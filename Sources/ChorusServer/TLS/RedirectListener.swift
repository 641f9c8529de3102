import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The plain HTTP port of `tls_redirect_port`: every request is answered `308 Permanent
/// Redirect` to its `https://` URL on the hub's TLS port, and the connection closed. Nothing
/// else (WebSocket, SSE, the API) is served there. ``HubListener`` binds it once its own port
/// is known (it may be 0 in the configuration) and closes it when it stops accepting.
struct RedirectListener: Sendable {
    let host: String
    let port: Int
    let requestTimeout: Duration?

    func bind(group: any EventLoopGroup, tlsPort: Int, logger: Logger) async throws -> any Channel {
        let (host, port, requestTimeout) = (self.host, self.port, self.requestTimeout)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        HTTPResponseEncoder(),
                        ByteToMessageHandler(HTTPRequestDecoder()),
                        RedirectHandler(fallbackHost: host, tlsPort: tlsPort, requestTimeout: requestTimeout),
                    ])
                }
            }
            .bind(host: host, port: port)
            .flatMapErrorThrowing { error in throw ListenError(host: host, port: port, error: error) }
            .get()
        logger.info("Chorus redirect listening on \(host):\(channel.localAddress?.port ?? port): 308 to https:// on port \(tlsPort)")
        return channel
    }
}

/// Answers a request's head with a 308 to its `https://` URL and closes, without reading a
/// body; a client that has not sent a whole head within `request_timeout` is disconnected
/// (slowloris).
final class RedirectHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let fallbackHost: String
    private let tlsPort: Int
    private let requestTimeout: Duration?
    private var timer: Scheduled<Void>?
    private var answered = false

    init(fallbackHost: String, tlsPort: Int, requestTimeout: Duration?) {
        self.fallbackHost = fallbackHost
        self.tlsPort = tlsPort
        self.requestTimeout = requestTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard let timeout = self.requestTimeout else { return }
        let channel = context.channel
        self.timer = context.eventLoop.scheduleTask(in: TimeAmount(timeout)) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.timer?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = Self.unwrapInboundIn(data), !self.answered else { return }
        self.answered = true
        let location = HTTPSRedirect.location(
            hostHeader: head.headers.first(name: "host"), uri: head.uri, fallbackHost: self.fallbackHost, port: self.tlsPort
        )
        let headers = HTTPHeaders([("location", location), ("content-length", "0"), ("connection", "close")])
        context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .permanentRedirect, headers: headers))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Not HTTP (a TLS client on the wrong port, say): nothing to redirect.
        context.close(promise: nil)
    }
}
