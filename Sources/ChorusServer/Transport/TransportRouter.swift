import ChorusCore
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket

/// Looks at each HTTP request on a new connection and gives the connection to its transport:
/// `GET /ws` upgrades to a ``WebSocketConnection``, `GET /sse` becomes an ``SSEConnection``,
/// anything else goes to Hummingbird's router.
///
/// It also guards the connection until it is given away: per-IP connection limits and connect
/// rate, and `request_timeout`, within which each request must arrive whole (slowloris) and
/// which is also how long an idle keep-alive connection is kept. It watches Hummingbird's
/// responses pass (outbound) to know when the next request's time starts.
///
/// Requests are routed one at a time: while Hummingbird answers one, the router holds the
/// channel's reads and keeps the parts the decoder already produced (a pipelining client's next
/// requests), then routes them in order once the response's `.end` has passed. Only then may a
/// request take the connection over, when nothing of Hummingbird's can still write to it.
///
/// WebSocket and SSE connections are then owned by NIO handlers alone: no task or actor stays
/// behind. Hummingbird's per-connection task is created only when a plain HTTP request comes,
/// and ``ChorusChildChannel/handle(value:logger:)`` waits for that decision.
final class TransportRouter: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        /// No request yet, or the last one was answered by Hummingbird (`http` is then set).
        case routing
        /// Forwarding a request's parts to Hummingbird; `answered` once its response has ended
        /// (Hummingbird may answer before reading the body).
        case forwarding(keepAlive: Bool, answered: Bool)
        /// The request is in; Hummingbird is answering it. Later parts are held.
        case answering(keepAlive: Bool)
        /// A valid upgrade request; upgrade when its end arrives (`echo`: to the echo endpoint).
        case upgrading(HTTPRequestHead, echo: Bool)
        /// An SSE request; start the stream (after verifying its token) when its end arrives.
        case openingStream(ConnectRequest, [TopicPattern])
        /// Verifying a token, or the connection is given away or closing.
        case done
    }

    private let hub: Hub
    private let logger: Logger
    private let encoder: HTTPResponseEncoder
    private let decoder: ByteToMessageHandler<HTTPRequestDecoder>
    private let attachHTTP: (any Channel) throws -> ChorusChildChannel.Decision
    private var setupPromise: EventLoopPromise<ChorusChildChannel.Decision>?
    private var httpAttached = false
    private var state = State.routing
    private let origins: OriginPolicy
    private var requestTimer: Scheduled<Void>?
    /// Whether a request is partly read (or waiting for its response), so a timeout is an attack, not idleness.
    private var requestStarted = false
    /// Parts decoded while Hummingbird answers an earlier request, routed once it has.
    private var held = CircularBuffer<HTTPServerRequestPart>()
    private var heldBytes = 0
    /// A `read()` held back while parts are held.
    private var readHeld = false
    private var removed = false

    /// What a pipelining client may have decoded ahead of Hummingbird's answer. Reads are held
    /// meanwhile, so this is at most what the last reads brought; past it the connection closes.
    static let maxHeldParts = 256
    static let maxHeldBytes = 256 * 1024

    init(
        hub: Hub,
        logger: Logger,
        encoder: HTTPResponseEncoder,
        decoder: ByteToMessageHandler<HTTPRequestDecoder>,
        setupPromise: EventLoopPromise<ChorusChildChannel.Decision>,
        attachHTTP: @escaping (any Channel) throws -> ChorusChildChannel.Decision
    ) {
        self.hub = hub
        self.logger = logger
        self.encoder = encoder
        self.decoder = decoder
        self.setupPromise = setupPromise
        self.attachHTTP = attachHTTP
        self.origins = OriginPolicy(allowed: hub.configuration.allowedOrigins)
    }

    // MARK: Request timeout

    func handlerAdded(context: ChannelHandlerContext) {
        self.armRequestTimer(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.removed = true
        self.requestTimer?.cancel()
        self.requestTimer = nil
        self.dropHeld()
    }

    /// Gives the next request `request_timeout` to arrive whole.
    private func armRequestTimer(context: ChannelHandlerContext) {
        self.requestTimer?.cancel()
        guard let timeout = self.hub.configuration.requestTimeout else { return }
        let bound = NIOLoopBound((router: self, context: context), eventLoop: context.eventLoop)
        self.requestTimer = context.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            bound.value.router.requestTimedOut(context: bound.value.context)
        }
    }

    private func requestTimedOut(context: ChannelHandlerContext) {
        self.requestTimer = nil
        if self.requestStarted || !self.httpAttached {
            self.hub.metrics.limitRejected(.requestTimeout)
        }
        context.close(promise: nil)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch self.state {
        case .upgrading, .openingStream, .done:
            // The router's own error response, or given away: the new handlers' raw bytes pass by.
            return context.write(data, promise: promise)
        case .routing, .forwarding, .answering:
            break
        }
        guard case .end = Self.unwrapOutboundIn(data) else {
            return context.write(data, promise: promise)
        }
        switch self.state {
        case .routing:
            self.responseEnded(context: context)
        case .forwarding(let keepAlive, _):
            self.state = .forwarding(keepAlive: keepAlive, answered: true)
            self.responseEnded(context: context)
        case .answering(keepAlive: true):
            self.state = .routing
            self.responseEnded(context: context)
            self.scheduleReplay(context: context)
        case .answering(keepAlive: false):
            // The client asked for the connection to close after this response.
            self.state = .done
            self.dropHeld()
            let written = promise ?? context.eventLoop.makePromise()
            let channel = context.channel
            written.futureResult.whenComplete { _ in channel.close(promise: nil) }
            return context.write(data, promise: written)
        case .upgrading, .openingStream, .done:
            break
        }
        context.write(data, promise: promise)
    }

    /// A response is complete: the next request's time starts now.
    private func responseEnded(context: ChannelHandlerContext) {
        self.requestStarted = false
        self.armRequestTimer(context: context)
    }

    // MARK: Holding pipelined requests

    func read(context: ChannelHandlerContext) {
        if self.isHolding {
            self.readHeld = true
        } else {
            context.read()
        }
    }

    /// Whether parts must wait: Hummingbird is answering, or held parts are still to be routed.
    private var isHolding: Bool {
        if case .answering = self.state { return true }
        return !self.held.isEmpty
    }

    private func hold(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        if case .body(let bytes) = part { self.heldBytes += bytes.readableBytes }
        self.held.append(part)
        if self.held.count > Self.maxHeldParts || self.heldBytes > Self.maxHeldBytes {
            self.state = .done
            self.dropHeld()
            context.close(promise: nil)
        }
    }

    private func dropHeld() {
        self.held.removeAll()
        self.heldBytes = 0
    }

    /// Routes the held parts on the next loop tick: the response's `.end` is still on its way
    /// down, and Hummingbird's handler flushes after it.
    private func scheduleReplay(context: ChannelHandlerContext) {
        let bound = NIOLoopBound((router: self, context: context), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            bound.value.router.replay(context: bound.value.context)
        }
    }

    private func replay(context: ChannelHandlerContext) {
        while !self.removed, let part = self.held.popFirst() {
            if case .body(let bytes) = part { self.heldBytes -= bytes.readableBytes }
            self.process(part, context: context)
            if case .answering = self.state { break }
        }
        guard !self.removed else { return }
        // Hummingbird's channel hands reads on at the end of a read burst.
        context.fireChannelReadComplete()
        guard !self.isHolding, self.readHeld else { return }
        self.readHeld = false
        context.read()
    }

    // MARK: Routing

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = Self.unwrapInboundIn(data)
        if self.isHolding {
            return self.hold(part, context: context)
        }
        self.process(part, context: context)
    }

    private func process(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head:
            self.requestStarted = true
        case .end:
            // The request is in; answering it is not the client's delay.
            self.requestTimer?.cancel()
            self.requestTimer = nil
        case .body:
            break
        }
        switch (part, self.state) {
        case (.head(let head), .routing):
            self.route(head, context: context)
        case (.end, .forwarding(let keepAlive, answered: false)):
            self.state = .answering(keepAlive: keepAlive)
            context.fireChannelRead(Self.wrapInboundOut(part))
        case (.end, .forwarding(let keepAlive, answered: true)):
            self.state = keepAlive ? .routing : .done
            context.fireChannelRead(Self.wrapInboundOut(part))
            if !keepAlive { context.close(promise: nil) }
        case (_, .forwarding):
            context.fireChannelRead(Self.wrapInboundOut(part))
        case (.end, .upgrading(let head, let echo)):
            self.upgrade(head, echo: echo, context: context)
        case (.end, .openingStream(let request, let patterns)):
            self.openStream(request, patterns, context: context)
        default:
            // Bodies of GET requests we take over, and anything after we are done, are dropped.
            break
        }
    }

    private func route(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = RequestPath.of(head.uri)
        guard RequestPath.isCanonical(path) else {
            return self.respond(.badRequest, .badRequest, "request path is not canonical (doubled '/', '.' or '..' segments, encoded separators)", context: context)
        }
        let echo = path == "/echo" && self.hub.configuration.echoEndpoint
        switch path {
        case _ where path == "/ws" || echo:
            if let problem = WebSocketHandshake.problem(with: head) {
                return self.respond(.badRequest, .badRequest, problem, context: context)
            }
            guard self.origins.permits(head.headers["origin"].first) else {
                return self.respond(.forbidden, .forbidden, "origin not allowed", context: context)
            }
            guard self.admit(head, context: context) != nil else { return }
            self.state = .upgrading(head, echo: echo)
        case "/sse":
            guard head.method == .GET else {
                return self.respond(ProtocolError(.badRequest, "use GET for /sse"), status: .methodNotAllowed, allow: "GET", context: context)
            }
            guard let address = self.admit(head, context: context) else { return }
            let request = ConnectRequest(head: head, remoteAddress: address)
            guard self.origins.permits(request.origin) else {
                return self.respond(.forbidden, .forbidden, "origin not allowed", context: context)
            }
            guard !request.topics.isEmpty else {
                return self.respond(.badRequest, .badRequest, "name at least one topic: /sse?topic=<topic or pattern>", context: context)
            }
            do {
                try self.hub.limits.admitSubscriptions(total: request.topics.count)
            } catch {
                // Retrying the same stream can never pass: a bad request, not a 429.
                return self.respond(.badRequest, .badRequest, "\(error.message); this stream names \(request.topics.count) topics", context: context)
            }
            var patterns: [TopicPattern] = []
            for text in request.topics {
                do {
                    patterns.append(try TopicPattern(text))
                } catch {
                    return self.respond(.badRequest, .badRequest, "invalid topic \(ProtocolError.quoted(text)): \(error.description)", context: context)
                }
            }
            self.state = .openingStream(request, patterns)
        default:
            if !self.httpAttached {
                do {
                    let value = try self.attachHTTP(context.channel)
                    self.httpAttached = true
                    self.setupPromise?.succeed(value)
                    self.setupPromise = nil
                } catch {
                    self.logger.error("cannot attach the HTTP handler", metadata: ["error": "\(error)"])
                    return context.close(promise: nil)
                }
            }
            self.state = .forwarding(keepAlive: head.isKeepAlive, answered: false)
            context.fireChannelRead(Self.wrapInboundOut(.head(head)))
        }
    }

    /// Counts a WebSocket or SSE connection attempt against the client address's limits;
    /// answers 429 and returns nil when over one. The address is the resolved client address
    /// (or "" when the socket has none, which no limit counts).
    private func admit(_ head: HTTPRequestHead, context: ChannelHandlerContext) -> String? {
        let address = self.hub.limits.clientAddress(peer: context.channel.remoteAddress?.ipAddress, forwardedFor: head.headers["x-forwarded-for"])
        do {
            try self.hub.limits.admitConnection(from: address, channel: context.channel)
        } catch {
            self.respond(error, context: context)
            return nil
        }
        return address ?? ""
    }

    // MARK: WebSocket

    private func upgrade(_ head: HTTPRequestHead, echo: Bool, context: ChannelHandlerContext) {
        self.state = .done
        // The echo endpoint speaks no Chorus protocol, so it selects no subprotocol.
        let version = echo ? .v1 : WebSocketHandshake.protocolVersion(requestedBy: head)
        // Not flushed: the connection handler flushes it together with its first frames
        // (`subscribed` for `?topic=`), one write instead of two.
        context.write(Self.wrapOutboundOut(.head(WebSocketHandshake.response(for: head, version: version))), promise: nil)
        if echo {
            return self.takeOver(context: context, with: [EchoConnection(maxMessageSize: self.hub.configuration.maxMessageSize)])
        }
        let address = self.hub.limits.clientAddress(peer: context.channel.remoteAddress?.ipAddress, forwardedFor: head.headers["x-forwarded-for"])
        let request = ConnectRequest(head: head, remoteAddress: address)
        let connection = WebSocketConnection(hub: self.hub, shard: self.hub.shard(for: context.eventLoop), request: request, version: version)
        self.takeOver(context: context, with: [connection])
    }

    // MARK: SSE

    private func openStream(_ request: ConnectRequest, _ patterns: [TopicPattern], context: ChannelHandlerContext) {
        self.state = .done
        let allowOrigin = self.origins.allowOriginHeader(for: request.origin)
        guard let token = request.token else {
            guard self.hub.authenticator.anonymousAllowed else {
                return self.respond(.unauthorized, .unauthorized, "a token is required (Authorization header, ?token= or the chorus_token cookie)", context: context)
            }
            return self.startStream(request, patterns, identity: .anonymous, allowOrigin: allowOrigin, context: context)
        }
        do {
            let identity = try self.hub.authenticator.verify(token: token)
            self.startStream(request, patterns, identity: identity, allowOrigin: allowOrigin, context: context)
        } catch {
            self.respond(error, status: .unauthorized, context: context)
        }
    }

    private func startStream(_ request: ConnectRequest, _ patterns: [TopicPattern], identity: Identity, allowOrigin: String?, context: ChannelHandlerContext) {
        let access = TopicAccess.make(for: identity, configuration: self.hub.configuration)
        var subscriptions: [(pattern: TopicPattern, filtered: Bool)] = []
        do {
            if let user = identity.user {
                try self.hub.limits.admitUser(user, channel: context.channel)
            }
            for pattern in patterns {
                subscriptions.append((pattern, try access.authorizeSubscription(to: pattern)))
            }
        } catch {
            return self.respond(error, context: context)
        }
        let connection = SSEConnection(
            hub: self.hub,
            shard: self.hub.shard(for: context.eventLoop),
            request: request,
            identity: identity,
            access: access,
            patterns: subscriptions,
            allowOrigin: allowOrigin
        )
        self.takeOver(context: context, with: [connection])
    }

    // MARK: Pipeline surgery

    /// Replaces the HTTP handlers with `handlers`, which then speak raw bytes on the socket.
    /// The request decoder goes last so that bytes it read past the request (a client's first
    /// WebSocket frames) are handed to the new handlers. Hummingbird's handlers, when an earlier
    /// request attached them, go too (its response has ended); its task ends with the channel.
    private func takeOver(context: ChannelHandlerContext, with handlers: [any ChannelHandler]) {
        let pipeline = context.pipeline.syncOperations
        do {
            if self.httpAttached { try ChorusChildChannel.detachHummingbird(from: pipeline) }
            pipeline.removeHandler(self.encoder, promise: nil)
            try pipeline.addHandlers(handlers, position: .after(self))
            pipeline.removeHandler(context: context, promise: nil)
            // Its removal hands the new handlers the bytes it read past the request (frames sent
            // with the upgrade) outside any read burst: end one, so their answers are flushed.
            let removed = context.eventLoop.makePromise(of: Void.self)
            let channelPipeline = context.pipeline
            removed.futureResult.whenSuccess { channelPipeline.fireChannelReadComplete() }
            pipeline.removeHandler(self.decoder, promise: removed)
        } catch {
            self.logger.error("cannot take over the connection", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            return
        }
        self.setupPromise?.succeed(.takenOver)
        self.setupPromise = nil
        if self.readHeld {
            // Held while Hummingbird answered the request before; the new handlers read on.
            self.readHeld = false
            context.channel.read()
        }
    }

    // MARK: Errors and lifecycle

    private func respond(_ status: HTTPResponseStatus, _ code: ErrorCode, _ message: String, context: ChannelHandlerContext) {
        self.respond(ProtocolError(code, message), status: status, context: context)
    }

    /// Answers with a JSON error body and closes the connection.
    private func respond(_ error: ProtocolError, status: HTTPResponseStatus? = nil, allow: String? = nil, context: ChannelHandlerContext) {
        self.state = .done
        self.hub.metrics.error(error.code)
        var body = ByteBuffer()
        APIErrorBody.write(error, into: &body)
        var headers = HTTPHeaders()
        if let retryAfter = error.retryAfter { headers.add(name: "retry-after", value: String(retryAfter)) }
        if let allow { headers.add(name: "allow", value: allow) }
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: String(body.readableBytes))
        headers.add(name: "connection", value: "close")
        if let origin = self.origins.allowOriginHeader(for: nil) { headers.add(name: "access-control-allow-origin", value: origin) }
        let status = status ?? HTTPResponseStatus(statusCode: error.code.httpStatus)
        context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(Self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if self.httpAttached {
            // Hummingbird answers it and closes: nothing after it may be routed (and taken
            // over while Hummingbird still writes).
            self.state = .done
            self.dropHeld()
            return context.fireErrorCaught(error)
        }
        if error is HTTPParserError, case .routing = self.state {
            return self.respond(.badRequest, .badRequest, "malformed HTTP request", context: context)
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.dropHeld()
        self.setupPromise?.fail(ChannelError.inputClosed)
        self.setupPromise = nil
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if !self.httpAttached, event is ChannelShouldQuiesceEvent {
            // Nothing in flight that anyone waits for: a connection that never sent a request.
            return context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }
}
