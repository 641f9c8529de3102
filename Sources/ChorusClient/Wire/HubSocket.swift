import ChorusCore
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket

/// Opens one WebSocket connection to a hub: TCP, TLS for `wss`, the HTTP upgrade offering
/// `chorus.v1.1`. The frames then flow through an `NIOAsyncChannel`.
enum HubSocket {
    /// An open connection and the protocol version the hub selected.
    struct Opened: Sendable {
        var channel: NIOAsyncChannel<WebSocketFrame, WebSocketFrame>
        var version: ProtocolVersion
    }

    private enum Upgrade: Sendable {
        case upgraded(Opened)
        case refused
    }

    /// The largest frame accepted from the hub: its `max_message_size` default is 1 MiB, and
    /// a `message` frame wraps the data with its fields.
    static let maxFrameSize = 4 << 20

    static func open(
        _ endpoint: HubEndpoint,
        token: String?,
        group: any EventLoopGroup,
        connectTimeout: TimeAmount
    ) async throws -> Opened {
        let tlsContext = endpoint.tls ? try NIOSSLContext(configuration: .makeClientConfiguration()) : nil
        let upgrade: EventLoopFuture<Upgrade> = try await ClientBootstrap(group: group)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: endpoint.host, port: endpoint.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tlsContext {
                        let handler = try NIOSSLClientHandler(context: tlsContext, serverHostname: endpoint.host)
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                    var configuration = NIOUpgradableHTTPClientPipelineConfiguration(
                        upgradeConfiguration: Self.upgradeConfiguration(endpoint, token: token)
                    )
                    // The hub's first frame (`connected`) may come in the same read as its 101:
                    // those bytes belong to the WebSocket decoder, not the bin.
                    configuration.leftOverBytesStrategy = .forwardBytes
                    let upgraded = try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(configuration: configuration)
                    // A hub that accepts the TCP connection but never answers the upgrade would
                    // hold the client forever: the handshake gets the connect timeout too.
                    let deadline = channel.eventLoop.scheduleTask(in: connectTimeout) { channel.close(promise: nil) }
                    upgraded.whenComplete { _ in deadline.cancel() }
                    return upgraded
                }
            }
        switch try await upgrade.get() {
        case .upgraded(let opened):
            return opened
        case .refused:
            throw ChorusClientError(.upgradeFailed, "\(endpoint) did not upgrade to WebSocket")
        }
    }

    private static func upgradeConfiguration(_ endpoint: HubEndpoint, token: String?) -> NIOTypedHTTPClientUpgradeConfiguration<Upgrade> {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: endpoint.hostHeader)
        headers.add(name: "Sec-WebSocket-Protocol", value: ProtocolVersion.v1_1.subprotocol!)
        if let token { headers.add(name: "Authorization", value: "Bearer \(token)") }
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: endpoint.target, headers: headers)
        let upgrader = NIOTypedWebSocketClientUpgrader<Upgrade>(maxFrameSize: Self.maxFrameSize) { channel, response in
            channel.eventLoop.makeCompletedFuture {
                let asyncChannel = try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(wrappingChannelSynchronously: channel)
                // A hub that does not select the subprotocol speaks v1.
                let selected = response.headers.first(name: "Sec-WebSocket-Protocol")
                let version: ProtocolVersion = selected == ProtocolVersion.v1_1.subprotocol ? .v1_1 : .v1
                return .upgraded(Opened(channel: asyncChannel, version: version))
            }
        }
        return NIOTypedHTTPClientUpgradeConfiguration(upgradeRequestHead: head, upgraders: [upgrader]) { channel in
            // A hub that answers with anything but 101 gets its connection closed.
            channel.close(promise: nil)
            return channel.eventLoop.makeSucceededFuture(.refused)
        }
    }
}
