import NIOCore
import NIOPosix
import NIOSSL

/// Opens subscriber (and echo) connections: a socket bound to a loopback source address, then
/// connected, with the handler that speaks the protocol.
struct Connector: Sendable {
    var endpoint: EndpointTemplate
    var serverProtocol: ServerProtocol
    var token: String?
    var sources: SourceAddresses
    var connectTimeout: TimeAmount
    var openTimeout: TimeAmount
    var destination: SocketAddress
    /// For `wss://` and `https://` endpoints.
    var tlsContext: NIOSSLContext?

    /// IP_BIND_ADDRESS_NO_PORT (Linux): the port is picked at connect, per destination, rather
    /// than at bind for the source address alone; without it a source runs out of ports sooner.
    private static let bindAddressNoPort = ChannelOptions.Types.SocketOption(level: .ip, name: .init(rawValue: 24))

    init(endpoint: EndpointTemplate, serverProtocol: ServerProtocol, token: String?, sources: SourceAddresses,
         connectTimeout: TimeAmount, openTimeout: TimeAmount) throws {
        self.endpoint = endpoint
        self.serverProtocol = serverProtocol
        self.token = token
        self.sources = sources
        self.connectTimeout = connectTimeout
        self.openTimeout = openTimeout
        self.destination = try SocketAddress.makeAddressResolvingHost(endpoint.host, port: endpoint.port)
        self.tlsContext = endpoint.tls ? try BenchTLS.context() : nil
    }

    /// Connects from source number `sourceIndex` and adds the handler `makeHandler` builds (on
    /// the channel's loop). The future is the channel, once connected.
    func connect(
        on loop: any EventLoop, sourceIndex: Int, makeHandler: @escaping @Sendable () -> any ChannelHandler
    ) -> EventLoopFuture<any Channel> {
        let source: SocketAddress
        do {
            source = try self.sources.address(for: sourceIndex)
        } catch {
            return loop.makeFailedFuture(error)
        }
        let (endpoint, tlsContext) = (self.endpoint, self.tlsContext)
        return ClientBootstrap(group: loop)
            .connectTimeout(self.connectTimeout)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(Self.bindAddressNoPort, value: 1)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .bind(to: source)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try BenchTLS.addHandler(to: channel, endpoint: endpoint, context: tlsContext)
                    try channel.pipeline.syncOperations.addHandler(makeHandler())
                }
            }
            .connect(to: self.destination)
    }

    /// Connects a subscriber and completes once its subscription is confirmed.
    func subscribe(on loop: any EventLoop, sourceIndex: Int, role: SubscriberRole, tally: NIOLoopBoundBox<LoopTally>) -> EventLoopFuture<any Channel> {
        let opened = loop.makePromise(of: Void.self)
        let connector = self
        let sendableRole = NIOLoopBound(role, eventLoop: loop)
        return self.connect(on: loop, sourceIndex: sourceIndex) {
            SubscriberHandler(
                endpoint: connector.endpoint, serverProtocol: connector.serverProtocol, token: connector.token,
                role: sendableRole.value, tally: tally.value, opened: opened, openTimeout: connector.openTimeout
            )
        }.flatMap { channel in
            opened.futureResult.map { channel }
        }.flatMapError { error in
            opened.fail(error)
            return loop.makeFailedFuture(error)
        }
    }
}
