import ChorusServer
import Foundation
import Logging
import NIOCore
import NIOEmbedded

/// Feeds client bytes through a connection's production pipeline (``ChorusChildChannel``'s
/// HTTP/1 decoding and `TransportRouter`; Hummingbird's HTTP handlers when a plain request
/// comes, answered by a ``StandInResponder``; the real WebSocket and SSE connections of a real
/// ``Hub`` when the router hands the connection over) on an `EmbeddedChannel`.
///
/// Layout: a shape byte (bits 0–1: one to four writes; bits 2–4: whether the event loop runs
/// its tasks between them; bit 5: whether the clock then moves past `request_timeout`), two bytes of the stand-in's timings (``StandInResponder``), a byte
/// per cut between writes (where, as a fraction of the rest), then the bytes the client sends.
///
/// After each write and at the end: everything on the socket is bytes (an HTTP part there was
/// the crash of issue #21), and ``RouterWire`` accepts it.
enum RouterHarness {
    /// One hub and event loop per thread (an `EmbeddedEventLoop` is used on the thread that made it).
    private final class Environment {
        let loop = EmbeddedEventLoop()
        let hub: Hub
        let logger = Logger(label: "chorus-fuzz") { _ in SwiftLogNoOpLogHandler() }

        init() {
            var configuration = HubConfiguration()
            configuration.port = 0
            configuration.echoEndpoint = true
            configuration.maxConnectionsPerIP = 0
            configuration.maxConnectionsPerUser = 0
            configuration.maxConnectRatePerIP = 0
            configuration.maxPublishRatePerConnection = 0
            configuration.maxSubscribeRatePerConnection = 0
            configuration.maxAPIRatePerKey = 0
            // No history: its writer and readers call back from their own threads, which an
            // embedded event loop does not allow.
            configuration.namespaces = [:]
            do {
                let authenticator = try Authenticator(configuration: configuration)
                self.hub = try Hub(configuration: configuration, eventLoopGroup: self.loop, authenticator: authenticator, logger: self.logger)
            } catch {
                preconditionFailure("cannot make the hub: \(error)")
            }
        }

        static var current: Environment {
            let key = "ChorusFuzzTargets.RouterHarness"
            if let environment = Thread.current.threadDictionary[key] as? Environment { return environment }
            let environment = Environment()
            Thread.current.threadDictionary[key] = environment
            return environment
        }
    }

    static func run(_ input: UnsafeRawBufferPointer) {
        var fuzzInput = FuzzInput(input)
        let shape = fuzzInput.choice(of: 256)
        let timings = UInt16(fuzzInput.choice(of: 256)) | UInt16(fuzzInput.choice(of: 256)) << 8
        let cuts = (0..<shape & 3).map { _ in fuzzInput.choice(of: 256) }.sorted()
        let bytes = fuzzInput.rest()
        let ends = cuts.map { bytes.startIndex + bytes.count * $0 / 256 } + [bytes.endIndex]

        let environment = Environment.current
        let channel = EmbeddedChannel(handler: Socket(), loop: environment.loop)
        let decision = environment.loop.makePromise(of: ChorusChildChannel.Decision.self)
        do {
            try ChorusChildChannel.addHandlers(to: channel, hub: environment.hub, logger: environment.logger, decision: decision) { channel in
                try ChorusChildChannel.addHTTPHandlers(to: channel.pipeline.syncOperations, logger: environment.logger)
                try channel.pipeline.syncOperations.addHandler(StandInResponder(timings: timings))
                // The stand-in answers on the event loop: no task waits to serve the connection.
                return .takenOver
            }
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        } catch {
            preconditionFailure("cannot set the connection up: \(error)")
        }

        var wire = RouterWire()
        var start = bytes.startIndex
        for (index, end) in ends.enumerated() {
            let closed = !channel.isActive
            // Errors the pipeline raises (a malformed request, a closed channel) are answers, not bugs.
            _ = try? channel.writeInbound(ByteBuffer(bytes: bytes[start..<end]))
            start = end
            if index < ends.count - 1, shape >> (2 + index) & 1 == 1 { environment.loop.run() }
            self.drain(channel, into: &wire, closed: closed)
        }
        environment.loop.run()
        self.drain(channel, into: &wire, closed: false)
        if shape >> 5 & 1 == 1, let timeout = environment.hub.configuration.requestTimeout {
            // The router's timer runs on the loop's clock. (The hub's sweeps, for pings and
            // idle connections, read the real clock and are not started here.)
            let closed = !channel.isActive
            environment.loop.advanceTime(by: TimeAmount(timeout) + .seconds(1))
            self.drain(channel, into: &wire, closed: closed)
        }
        channel.close(promise: nil)
        environment.loop.run()
        self.drain(channel, into: &wire, closed: true)
        wire.finished()
        _ = try? channel.finish(acceptAlreadyClosed: true)
    }

    /// Hands what the connection wrote to `wire`; anything but bytes is the crash of issue #21.
    /// `closed`: the channel had closed before, so nothing may have been written.
    private static func drain(_ channel: EmbeddedChannel, into wire: inout RouterWire, closed: Bool) {
        while true {
            let bytes: ByteBuffer?
            do {
                bytes = try channel.readOutbound(as: ByteBuffer.self)
            } catch {
                preconditionFailure("the connection wrote something that is not bytes to the socket: \(error)")
            }
            guard let bytes else { return }
            precondition(!closed || bytes.readableBytes == 0, "bytes were written after the channel closed: \(String(buffer: bytes))")
            wire.received(bytes)
        }
    }

    /// Takes writes until the channel starts closing, as a socket does: an `EmbeddedChannel`
    /// still takes what handlers write while it closes (say, the router's `400` for a request
    /// the close cut short), which a closed socket refuses.
    private final class Socket: ChannelOutboundHandler {
        typealias OutboundIn = Any

        private var closed = false

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            guard !self.closed else {
                promise?.fail(ChannelError.ioOnClosedChannel)
                return
            }
            context.write(data, promise: promise)
        }

        func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
            if mode == .all { self.closed = true }
            context.close(mode: mode, promise: promise)
        }
    }
}
