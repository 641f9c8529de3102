public import ChorusCore
public import ChorusPostgres
import ChorusSQLite
import ChorusCluster
public import CoreMetrics
import Hummingbird
import HummingbirdCore
public import Logging
import NIOCore
import NIOPosix
public import ServiceLifecycle

/// A Chorus hub ready to run, as a `Service`: its own listener (the HTTP shell, the transports)
/// and the ``Hub``.
///
/// ```swift
/// let server = try await ChorusServer(configuration: configuration, customHandlers: [
///     "typing:start": { context throws(ProtocolError) in ... },
/// ])
/// // In the application's group, which handles SIGTERM:
/// try await ServiceGroup(services: [server, ...], gracefulShutdownSignals: [.sigterm], logger: logger).run()
/// ```
///
/// To serve Chorus from an application's own Hummingbird `Application` (its routes, its port)
/// instead, see `HTTPServerBuilder.chorus(_:)` and docs/embedding.md.
public struct ChorusServer: Service {
    /// The hub the server runs: publish to it, or ask what is connected.
    public let hub: Hub
    /// The configuration the server was made with.
    public let configuration: HubConfiguration
    /// The shared durable store, when `postgres_url` is set: ``run()`` runs it before the hub
    /// (migrating at start), and `/ready` reports it.
    public let postgres: PostgresService?
    /// The event bus (docs/event-bus.md), when `events` is on: publish events to it, register
    /// in-process handlers on it. ``run()`` runs it after the hub starts and stops it first.
    public let events: EventBus?
    /// The messages resource (`/api/messages`), when `messages` is on; a service of the group, after the bus.
    public let messages: MessagesService?
    /// The webhook consumers' HTTP client (opened on first use; a service of the group).
    let webhookClients: WebhookClients
    /// This node's part of a Redis cluster, when `broker` is `redis`.
    private let cluster: RedisClusterNode?
    private let eventLoopGroup: MultiThreadedEventLoopGroup
    /// The certificate new connections get, when `tls_cert` and `tls_key` are set.
    private let tls: ReloadableTLSContext?
    private let logger: Logger
    private let metricsExposition: MetricsExposition?
    private let onServerRunning: @Sendable (Int) async -> Void

    /// - Parameters:
    ///   - store: where namespaces that keep history keep it (a `GroupCommitStore` over the
    ///     application's `MessageStore`, say); nil: Redis with `broker: redis`, else the store
    ///     `configuration.store` names (memory unless configured otherwise), opened when some
    ///     namespace keeps history.
    ///     ``run()`` runs it, before the hub.
    ///   - customHandlers: handlers for application frame types, by `type`.
    ///   - metricsFactory: the swift-metrics backend the hub's metrics go to.
    ///   - metricsExposition: what `GET /metrics` serves (nil: no `/metrics` route), e.g.
    ///     `.prometheus(registry)` for the registry `metricsFactory` records into.
    ///   - onServerRunning: called with the bound port once the hub accepts connections.
    public init(
        configuration: HubConfiguration,
        store: (any HistoryStore)? = nil,
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
        var configuration = configuration
        // A cluster's shared state names this node: its id is fixed before anything uses it.
        if configuration.nodeID == nil { configuration.nodeID = LocalNode.generatedID() }
        try MessagesService.prepare(&configuration)
        let node = configuration.nodeID ?? ""
        // Unreadable, invalid or mismatched files stop the start here, saying which and why.
        self.tls = try ReloadableTLSContext(configuration: configuration)
        if configuration.tlsRedirectPort != nil, self.tls == nil {
            throw ConfigurationError("tls_redirect_port redirects to https://, which needs tls_cert and tls_key")
        }
        let threads = configuration.threads == 0 ? System.coreCount : configuration.threads
        self.eventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let authenticator = try Authenticator(configuration: configuration)
        let cluster = try RedisClusterNode(configuration: configuration, logger: logger)
        let postgres = try Self.openPostgres(configuration, eventLoopGroup: self.eventLoopGroup, logger: logger)
        self.postgres = postgres
        self.hub = try Hub(
            configuration: configuration,
            eventLoopGroup: self.eventLoopGroup,
            authenticator: authenticator,
            historyStore: try store ?? cluster?.historyStore(configuration, node: node) ?? Self.openStore(configuration, logger: logger),
            broker: { local in cluster?.makeBroker(node: node, local: local) ?? MemoryBroker(local: local) },
            customHandlers: customHandlers,
            nodeDirectory: cluster?.directory,
            metricsFactory: metricsFactory,
            logger: logger,
            push: { [eventLoopGroup] metrics in
                // A cluster shares its subscriptions in PostgreSQL; one node keeps `push.sqlite`.
                try PushService.make(
                    configuration: configuration, store: postgres.map { PostgresPushSubscriptionStore(client: $0.client, logger: logger) },
                    eventLoopGroup: eventLoopGroup, metrics: metrics, logger: logger)
            },
            presenceDirectory: { changes in
                cluster?.makePresenceDirectory(node: node, changes: changes, configuration: configuration) ?? MemoryPresenceDirectory(changes: changes)
            },
            syncStore: try Self.openSyncStore(configuration, postgres: self.postgres, logger: logger)
        )
        self.cluster = cluster
        cluster?.attach(self.hub)
        if let postgres = self.postgres { self.hub.readiness.register(postgres) }
        self.webhookClients = WebhookClients(eventLoopGroup: self.eventLoopGroup)
        self.events = try Self.makeEventBus(
            configuration, hub: self.hub, postgres: self.postgres, webhooks: self.webhookClients, metricsFactory: metricsFactory, logger: logger)
        self.messages = try MessagesService.make(configuration, bus: self.events, postgres: self.postgres, logger: logger)
        self.configuration = configuration
        self.metricsExposition = metricsExposition
        self.logger = logger
        self.onServerRunning = onServerRunning
    }

    /// The history store `configuration.store` names (memory, the library's default, or SQLite
    /// in `data_dir`), trimming the namespaces' TTLs, when some namespace keeps history; nil
    /// otherwise. It is a `Service`: it must run, before the hub in its group.
    public static func openStore(_ configuration: HubConfiguration, logger: Logger = Logger(label: "chorus")) throws -> (any HistoryStore)? {
        guard configuration.namespaces.values.contains(where: \.keepsHistory) else { return nil }
        let backend: any MessageStore
        switch configuration.store {
        case .memory:
            backend = MemoryMessageStore()
        case .sqlite:
            backend = try SQLiteMessageStore(path: configuration.dataDirectory + "/chorus.sqlite", sync: configuration.sqliteSync, maxSize: configuration.maxStoreSize)
        }
        let ttls = configuration.namespaces.compactMapValues { $0.keepsHistory ? $0.historyTTL : nil }
        return try GroupCommitStore(backend: backend, ttls: ttls, logger: logger)
    }

    /// The event bus, when `events` is on: its store is PostgreSQL's with `postgres_url` (a
    /// cluster shares it), else `events.sqlite` in `data_dir`, opened when the bus runs.
    static func makeEventBus(
        _ configuration: HubConfiguration, hub: Hub, postgres: PostgresService?, webhooks: WebhookClients, metricsFactory: any MetricsFactory,
        logger: Logger
    ) throws -> EventBus? {
        guard configuration.events else { return nil }
        let openStore: @Sendable () throws -> any EventStore
        if let postgres {
            openStore = { PostgresEventStore(client: postgres.client, logger: logger) }
        } else {
            let path = configuration.dataDirectory + "/events.sqlite"
            let sync = configuration.sqliteSync
            let idsInMemory = configuration.eventsIdempotencyIDsInMemory
            openStore = { try SQLiteEventStore(path: path, sync: sync, idsInMemory: idsInMemory) }
        }
        return try EventBus(
            hub: hub,
            openStore: openStore,
            webhooks: webhooks,
            liveNodes: { (try? await hub.nodes().count) ?? 1 },
            waitForStore: Self.ready(postgres),
            metricsFactory: metricsFactory,
            logger: logger
        )
    }

    /// Returns once PostgreSQL (when configured) answers and is migrated: its service runs
    /// before the bus and the messages resource, which wait for it with this.
    static func ready(_ postgres: PostgresService?) -> @Sendable () async throws -> Void {
        {
            while let postgres {
                do {
                    try await postgres.checkReady()
                    return
                } catch {
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
        }
    }

    /// When some namespace has `sync: true`: PostgreSQL's store with `postgres_url` (a cluster
    /// shares it), else `sync.sqlite` in `data_dir`; nil otherwise.
    static func openSyncStore(_ configuration: HubConfiguration, postgres: PostgresService?, logger: Logger) throws -> (any SyncStore)? {
        guard configuration.namespaces.values.contains(where: \.sync) else { return nil }
        if let postgres { return PostgresSyncStore(client: postgres.client, logger: logger) }
        return try SQLiteSyncStore(path: configuration.dataDirectory + "/sync.sqlite", sync: configuration.sqliteSync)
    }

    /// The PostgreSQL client `postgres_url` names, with the pool size and timeout configured;
    /// nil when none is set.
    static func openPostgres(_ configuration: HubConfiguration, eventLoopGroup: any EventLoopGroup, logger: Logger) throws -> PostgresService? {
        guard let url = configuration.postgresURL else { return nil }
        var postgres: PostgresConfiguration
        do throws(PostgresConfigurationError) {
            postgres = try PostgresConfiguration(url: url)
        } catch {
            throw ConfigurationError(error.message)
        }
        postgres.poolSize = configuration.postgresPoolSize
        postgres.connectTimeout = configuration.postgresConnectTimeout
        return PostgresService(configuration: postgres, eventLoopGroup: eventLoopGroup, logger: logger)
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Serves until the graceful shutdown of the task that runs it (its `ServiceGroup`'s), then
    /// shuts down: stops accepting, sends every client `disconnect` and close 1001, waits for
    /// them (at most `shutdown_timeout` in all), stops the hub, returns.
    ///
    /// Runs PostgreSQL's client (when configured), the Redis connections and heartbeat (with
    /// `broker: redis`), the history store, the hub and its listener as a group of their own,
    /// in that order, so the listener stops first, then the hub, the store, Redis, and
    /// PostgreSQL last. PostgreSQL or Redis unreachable at start, or PostgreSQL's migrations
    /// refused, stops the group with an error that says why.
    public func run() async throws {
        let hub = self.hub
        let logger = self.logger
        let configuration = self.configuration
        let onServerRunning = self.onServerRunning
        let listener = HubListener(
            host: configuration.host,
            port: configuration.port,
            eventLoopGroup: self.eventLoopGroup,
            childChannel: ChorusChildChannel(responder: APIResponder.make(hub: hub, events: self.events, messages: self.messages, metricsExposition: self.metricsExposition, logger: logger), hub: hub, tls: self.tls),
            logger: logger,
            redirect: configuration.tlsRedirectPort.map { RedirectListener(host: configuration.host, port: $0, requestTimeout: configuration.requestTimeout) }
        ) { channel in
            let port = channel.localAddress?.port ?? configuration.port
            hub.node.listening(host: configuration.host, port: port)
            logger.info("Chorus hub listening on \(configuration.host):\(port)\(configuration.tlsCertificateFile == nil ? "" : " (TLS: https:// and wss://)")")
            if configuration.isDevelopmentMode {
                logger.notice("development mode: no JWT key or API key configured; anonymous clients and unauthenticated API calls are accepted, loopback only")
            }
            await onServerRunning(port)
        }
        // Stopped in reverse order: the listener (clients get `disconnect` + 1001 after their
        // acks), then the hub (connections finish closing), then the store (what it accepted
        // is committed).
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: hub), .init(service: listener)]
        // Other nodes' sync changes, heard from PostgreSQL (docs/architecture.md, "Sync in a cluster").
        if let postgres = self.postgres, let sync = hub.sync {
            let heard = PostgresSyncListener(
                configuration: postgres.configuration, eventLoopGroup: self.eventLoopGroup, logger: logger, listening: sync.resume,
                received: { sync.announced($0.collection, version: $0.version, json: $0.frame) })
            services.insert(.init(service: heard), at: 0)
        }
        // After the hub (bridges publish through it), before the listener (the API uses it).
        if let events = self.events {
            services.insert(.init(service: events), at: 1)
            // Stops after the bus, whose deliveries use it.
            services.insert(.init(service: self.webhookClients), at: 0)
        }
        // After the bus (it publishes there), before the listener (the API uses it).
        if let messages = self.messages, let index = services.firstIndex(where: { $0.service is EventBus }) {
            services.insert(.init(service: messages), at: index + 1)
        }
        if let tls = self.tls {
            services.append(.init(service: HangupReload(reloads: [{ tls.reload(logger: logger) }])))
        }
        if let store = hub.history { services.insert(.init(service: store), at: 0) }
        if let cluster = self.cluster { services.insert(contentsOf: cluster.services.map { .init(service: $0) }, at: 0) }
        // Stops after the hub: a publish accepted while it drains still gets its pushes queued.
        if let push = hub.push { services.insert(.init(service: push), at: 0) }
        if let postgres = self.postgres { services.insert(.init(service: postgres), at: 0) }
        var groupConfiguration = ServiceGroupConfiguration(services: services, logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = configuration.shutdownTimeout
        groupConfiguration.maximumCancellationDuration = .seconds(1)
        do {
            try await ServiceGroup(configuration: groupConfiguration).run()
        } catch {
            // Such as a port in use: the application may go on without Chorus's threads.
            try? await self.eventLoopGroup.shutdownGracefully()
            throw error
        }
        try await self.eventLoopGroup.shutdownGracefully()
        logger.info("Chorus hub stopped")
    }
}

/// Its name only: a `ServiceGroup` logs its services by description, and the configuration
/// holds the keys.
extension ChorusServer: CustomStringConvertible {
    /// Its name, never its configuration (which holds the keys).
    public var description: String { "ChorusServer" }
}

extension HubConfiguration {
    /// How each SQLite file of this node (history, events, sync, messages) commits: `store_sync`.
    var sqliteSync: SQLiteMessageStore.Sync {
        self.storeSync == .full ? .full : .normal
    }
}
