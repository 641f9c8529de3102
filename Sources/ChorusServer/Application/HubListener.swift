import Foundation
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOExtras
import NIOPosix
import ServiceLifecycle

/// The hub's listening socket, as a `Service`: accepts connections on the hub's event loops and
/// gives each to a ``ChorusChildChannel`` (an HTTP decoder and a ``TransportRouter``).
///
/// Hummingbird's own server starts a Swift task for every accepted connection, which costs each
/// WebSocket connection several thread hand-offs before the router has even seen its request
/// (about a third of the server's CPU when clients connect and leave quickly). Here a connection
/// only becomes a task when it turns out to be a plain HTTP request for Hummingbird's router.
struct HubListener: Service {
    let host: String
    let port: Int
    let eventLoopGroup: any EventLoopGroup
    let childChannel: ChorusChildChannel
    let logger: Logger
    /// The plain HTTP port that redirects to this one (`tls_redirect_port`), if any.
    var redirect: RedirectListener? = nil
    let onListening: @Sendable (any Channel) async -> Void

    func run() async throws {
        let quiescing = ServerQuiescingHelper(group: self.eventLoopGroup)
        let (httpConnections, handOver) = AsyncStream.makeStream(of: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>.self)
        let childChannel = self.childChannel
        let logger = self.logger
        let serverChannel = try await ServerBootstrap(group: self.eventLoopGroup)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                childChannel.setup(channel: channel, logger: logger).map { value in
                    value.decision.whenSuccess { decision in
                        if case .http(let connection) = decision { handOver.yield(connection) }
                    }
                }
            }
            .bind(host: self.host, port: self.port)
            .flatMapErrorThrowing { [host, port] error in throw ListenError(host: host, port: port, error: error) }
            .get()
        let redirectChannel: (any Channel)?
        do {
            redirectChannel = try await self.redirect?.bind(group: self.eventLoopGroup, tlsPort: serverChannel.localAddress?.port ?? self.port, logger: logger)
        } catch {
            try? await serverChannel.close()
            throw error
        }
        await self.onListening(serverChannel)
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for await connection in httpConnections {
                    group.addTask { await childChannel.handleHTTP(asyncChannel: connection, logger: logger) }
                }
            }
        } onGracefulShutdown: {
            // Stop accepting and tell every connection to wind down (WebSocket and SSE clients
            // get `disconnect` and 1001); the stream ends once they are all closed. A publish
            // acknowledged before now reaches its subscribers before their `disconnect`: the
            // hub's deliveries are queued on the loops first, and the quiesce events after them.
            let hub = childChannel.hub
            Task {
                await hub.queueAcknowledgedDeliveries()
                let closed = serverChannel.eventLoop.makePromise(of: Void.self)
                closed.futureResult.whenComplete { _ in handOver.finish() }
                quiescing.initiateShutdown(promise: closed)
                redirectChannel?.close(promise: nil)
            }
        }
    }
}

/// Its name only, for the group's log: the hub it holds has the configuration, with its keys.
extension HubListener: CustomStringConvertible {
    var description: String { "HubListener" }
}

/// Why the hub could not listen, in words a person can act on.
public struct ListenError: Error, CustomStringConvertible {
    /// What went wrong and what to do about it.
    public let description: String

    init(host: String, port: Int, error: any Error) {
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        switch (error as? IOError)?.errnoCode {
        case EADDRINUSE:
            self.description = "cannot listen on \(address): the address is already in use (another process, perhaps another hub, holds it); stop it or choose another port with --port or CHORUS_PORT"
        case EACCES:
            self.description = "cannot listen on \(address): permission denied (ports below 1024 need privileges); choose a port from 1024 up with --port or CHORUS_PORT"
        case EADDRNOTAVAIL:
            self.description = "cannot listen on \(address): no network interface of this machine has that address; choose another with --host or CHORUS_HOST"
        default:
            self.description = "cannot listen on \(address): \(error)"
        }
    }
}
