import ChorusCore
import ChorusSQLite
import CoreMetrics
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import UnixSignals

/// A Chorus hub ready to run: the HTTP shell (Hummingbird), the transports and the ``Hub``.
///
/// ```swift
/// let server = try await ChorusServer(configuration: configuration, customHandlers: [
///     "typing:start": { context throws(ProtocolError) in ... },
/// ])
/// try await server.run()
/// ```
public struct ChorusServer: Sendable {
    /// The hub the server runs: publish to it, or ask what is connected.
    public let hub: Hub
    /// The configuration the server was made with.
    public let configuration: HubConfiguration
    private let eventLoopGroup: MultiThreadedEventLoopGroup
    private let logger: Logger
    private let metricsExposition: MetricsExposition?
    private let onServerRunning: @Sendable (Int) async -> Void

    /// - Parameters:
    ///   - customHandlers: handlers for application frame types, by `type`.
    ///   - metricsFactory: the swift-metrics backend the hub's metrics go to.
    ///   - metricsExposition: what `GET /metrics` serves (nil: no `/metrics` route), e.g.
    ///     `.prometheus(registry)` for the registry `metricsFactory` records into.
    ///   - onServerRunning: called with the bound port once the hub accepts connections.
    public init(
        configuration: HubConfiguration,
        customHandlers: [String: CustomFrameHandler] = [:],
        metricsFactory: any MetricsFactory = MetricsSystem.factory,
        metricsExposition: MetricsExposition? = nil,
        logger: Logger = Logger(label: "chorus"),
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws {
        if configuration.isDevelopmentMode, !Self.isLoopback(configuration.host) {
            throw ConfigurationError(
                "refusing to listen on '\(configuration.host)' with no credential configured: anyone could connect and publish. "
                    + "Set CHORUS_JWT_SECRET (or a public key / JWKS) and CHORUS_API_KEY, or listen on 127.0.0.1."
            )
        }
        let threads = configuration.threads == 0 ? System.coreCount : configuration.threads
        self.eventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let authenticator = try Authenticator(configuration: configuration)
        let store = try Self.openStore(configuration)
        self.hub = try Hub(
            configuration: configuration,
            eventLoopGroup: self.eventLoopGroup,
            authenticator: authenticator,
            store: store,
            customHandlers: customHandlers,
            metricsFactory: metricsFactory,
            logger: logger
        )
        self.configuration = configuration
        self.metricsExposition = metricsExposition
        self.logger = logger
        self.onServerRunning = onServerRunning
    }

    /// The history store, when some namespace keeps history.
    public static func openStore(_ configuration: HubConfiguration) throws -> (any MessageStore)? {
        guard configuration.namespaces.values.contains(where: \.keepsHistory) else { return nil }
        switch configuration.store {
        case .memory:
            return MemoryMessageStore()
        case .sqlite:
            let sync: SQLiteMessageStore.Sync = configuration.storeSync == .full ? .full : .normal
            return try SQLiteMessageStore(path: configuration.dataDirectory + "/chorus.sqlite", sync: sync, maxSize: configuration.maxStoreSize)
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Runs until SIGTERM or SIGINT, then shuts down gracefully: stops accepting, sends every
    /// client `disconnect` and close 1001, waits for them (at most `shutdown_timeout`), returns.
    public func run() async throws {
        let hub = self.hub
        let logger = self.logger
        let configuration = self.configuration
        let onServerRunning = self.onServerRunning
        let listener = HubListener(
            host: configuration.host,
            port: configuration.port,
            eventLoopGroup: self.eventLoopGroup,
            childChannel: ChorusChildChannel(responder: APIResponder.make(hub: hub, metricsExposition: self.metricsExposition, logger: logger), hub: hub),
            logger: logger
        ) { channel in
            let port = channel.localAddress?.port ?? configuration.port
            logger.info("Chorus hub listening on \(configuration.host):\(port)")
            if configuration.isDevelopmentMode {
                logger.notice("development mode: no JWT key or API key configured; anonymous clients and unauthenticated API calls are accepted, loopback only")
            }
            await onServerRunning(port)
        }
        let sweepInterval = Self.sweepInterval(configuration)
        for shard in hub.shards { shard.startSweeping(every: sweepInterval) }
        let ttls = configuration.namespaces.compactMapValues { $0.keepsHistory ? $0.historyTTL : nil }
        hub.history?.startTrimming(ttls: ttls, on: hub.shards[0].eventLoop)
        var groupConfiguration = ServiceGroupConfiguration(
            services: [.init(service: listener)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        groupConfiguration.maximumGracefulShutdownDuration = configuration.shutdownTimeout
        groupConfiguration.maximumCancellationDuration = .seconds(1)
        let started = ContinuousClock.now
        try await ServiceGroup(configuration: groupConfiguration).run()
        // The listener returns once every connection has closed, or when the shutdown timeout
        // cancels it; then WebSocket and SSE clients may still be finishing their close
        // handshake (each at most a couple of seconds). Wait for them.
        while hub.metrics.connectionCount > 0, ContinuousClock.now - started < configuration.shutdownTimeout {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for shard in hub.shards { await shard.stopSweeping() }
        await hub.close()
        try await self.eventLoopGroup.shutdownGracefully()
        logger.info("Chorus hub stopped")
    }

    /// Often enough to honour the shortest of the heartbeat settings, at most once a second.
    static func sweepInterval(_ configuration: HubConfiguration) -> TimeAmount {
        let shortest = min(configuration.pingInterval, configuration.idleTimeout, configuration.sseKeepAliveInterval)
        let milliseconds = max(50, min(1000, shortest.components.seconds * 1000 / 2 + shortest.components.attoseconds / 2_000_000_000_000_000))
        return .milliseconds(milliseconds)
    }
}
