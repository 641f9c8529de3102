package import HummingbirdCore
package import Logging
package import NIOCore
import NIOHTTP1
package import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOSSL

/// Hummingbird's seam for owning each accepted connection (`HTTPServerBuilder`): sets up HTTP/1
/// decoding and a ``TransportRouter``, whose decision `handle` waits for.
///
/// NIO registers an accepted channel only once `setup`'s future completes, so `setup` cannot
/// wait for the first request itself; the short-lived task that `handle` runs in ends as soon
/// as a WebSocket or SSE connection is handed to its NIO handlers.
package struct ChorusChildChannel: ServerChildChannel, HTTPChannelHandler {
    package enum Decision: Sendable {
        /// A plain HTTP connection, served by Hummingbird's router.
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        /// A WebSocket or SSE connection, owned by NIO handlers from now on.
        case takenOver
    }

    package struct Value: ServerChildChannelValue {
        package let channel: any Channel
        let decision: EventLoopFuture<Decision>
    }

    /// Each connection keeps its last receive buffer for reuse, so its first size is what an
    /// idle connection holds: 512 bytes fits a typical upgrade request (NIO's default is 2 KiB),
    /// and busier connections grow theirs as their reads fill it.
    static let receiveBuffers = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65536)

    package let responder: HTTPChannelHandler.Responder
    let hub: Hub
    /// With `tls_cert`/`tls_key`: each connection starts with a TLS handshake, on the context
    /// current when it is accepted.
    var tls: ReloadableTLSContext? = nil

    package func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let promise = channel.eventLoop.makePromise(of: Decision.self)
        // A connection closed before the router decided (a port probe, a client gone during
        // shutdown) must not leave the decision unanswered (a leaked promise); once decided,
        // this later failure is ignored.
        channel.closeFuture.whenComplete { _ in promise.fail(ChannelError.ioOnClosedChannel) }
        do {
            try channel.syncOptions?.setOption(ChannelOptions.recvAllocator, value: Self.receiveBuffers)
            if let tls = self.tls {
                try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.context))
            }
            try Self.addHandlers(to: channel, hub: self.hub, logger: logger, decision: promise, attachHTTP: Self.attachHummingbird(logger: logger))
        } catch {
            promise.fail(error)
            return channel.eventLoop.makeFailedFuture(error)
        }
        return channel.eventLoop.makeSucceededFuture(Value(channel: channel, decision: promise.futureResult))
    }

    /// HTTP/1 decoding and the ``TransportRouter``, which decides `decision`. It calls
    /// `attachHTTP` when the first plain HTTP request comes, to add the handlers that answer it
    /// after itself: Hummingbird's here, a synchronous stand-in in the `router` fuzz target.
    package static func addHandlers(
        to channel: any Channel,
        hub: Hub,
        logger: Logger,
        decision: EventLoopPromise<Decision>,
        attachHTTP: @escaping (any Channel) throws -> Decision
    ) throws {
        let encoder = HTTPResponseEncoder(configuration: .init())
        let decoder = ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes))
        let router = TransportRouter(hub: hub, logger: logger, encoder: encoder, decoder: decoder, setupPromise: decision, attachHTTP: attachHTTP)
        try channel.pipeline.syncOperations.addHandlers([encoder, decoder, router])
    }

    /// The handlers Hummingbird's `HTTP1Channel` would add, placed after the router.
    private static func attachHummingbird(logger: Logger) -> (any Channel) throws -> Decision {
        { channel in
            try Self.addHTTPHandlers(to: channel.pipeline.syncOperations, logger: logger)
            let asyncChannel = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                wrappingChannelSynchronously: channel,
                configuration: .init(isOutboundHalfClosureEnabled: true)
            )
            return .http(asyncChannel)
        }
    }

    /// Hummingbird's handlers that turn NIO's HTTP/1 parts into HTTP types and watch requests
    /// and responses; what answers them goes after.
    package static func addHTTPHandlers(to pipeline: ChannelPipeline.SynchronousOperations, logger: Logger) throws {
        let secure = (try? pipeline.handler(type: NIOSSLServerHandler.self)) != nil
        try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: secure))
        try pipeline.addHandler(HTTPConnectionStateHandler(idleTimeout: nil, logger: logger))
    }

    /// Removes the handlers of ``addHTTPHandlers(to:logger:)``, when a connection
    /// Hummingbird served is taken over. Its `NIOAsyncChannel` handler stays last in the pipeline,
    /// receiving nothing: the task waiting on it ends when the channel closes.
    static func detachHummingbird(from pipeline: ChannelPipeline.SynchronousOperations) throws {
        pipeline.removeHandler(try pipeline.handler(type: HTTPConnectionStateHandler.self), promise: nil)
        pipeline.removeHandler(try pipeline.handler(type: HTTP1ToHTTPServerCodec.self), promise: nil)
    }

    /// Sets `channel` up as the listener does and serves it in a task, which ends when the
    /// connection is given away or closes: for the router's tests and fuzz target.
    package static func serve(_ channel: any Channel, hub: Hub, responder: @escaping HTTPChannelHandler.Responder, logger: Logger) async throws -> Task<Void, Never> {
        let child = ChorusChildChannel(responder: responder, hub: hub)
        let value = try await channel.eventLoop.flatSubmit { child.setup(channel: channel, logger: logger) }.get()
        return Task { await child.handle(value: value, logger: logger) }
    }

    package func handle(value: Value, logger: Logger) async {
        guard case .http(let asyncChannel) = try? await value.decision.get() else { return }
        await self.handleHTTP(asyncChannel: asyncChannel, logger: logger)
    }
}
