import ChorusCluster
import ChorusCore
import ChorusRedis
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// This process's part of a cluster on Redis (`broker: redis`): one command connection, shared
/// by the broker's publishes, the history store and the heartbeat; the broker with its pub/sub
/// connection; the history store; the node directory; `/ready`'s `redis` check; with presence,
/// the presence directory on a command and a pub/sub connection of its own.
final class RedisClusterNode: Sendable {
    let client: RedisClient
    let directory: RedisNodeDirectory
    private let redis: RedisConfiguration
    private let redactedURL: String
    private let channels: RedisChannels
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let broker = Mutex<RedisBroker?>(nil)
    /// The presence directory and its command connection, when some namespace has presence.
    private let presence = Mutex<(directory: RedisPresenceDirectory, client: RedisClient)?>(nil)
    /// The hub, once made: the heartbeat reports its connections.
    private let hub = HubSlot()

    /// The node `configuration` describes, when its broker is Redis; nil for one process.
    ///
    /// The Redis connections run on `eventLoopGroup`, which must not be the hub's: a loop busy
    /// writing a large fan-out would hold Redis's replies back past the command timeout, and the
    /// connection would be reset (measured: publishes refused and messages lost under a flat-out
    /// fan-out). NIO's shared group, idle otherwise, is the default.
    /// - Throws: `ConfigurationError` when `redis_url` is missing or not a Redis URL.
    init?(configuration: HubConfiguration, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) throws {
        guard configuration.broker == .redis else { return nil }
        guard let url = configuration.redisURL else { throw ConfigurationError("broker is redis but redis_url is not set") }
        do throws(RedisError) {
            self.redis = try RedisConfiguration(url: url)
        } catch {
            throw ConfigurationError(error.message)
        }
        self.redactedURL = RedisConfiguration.redactedURL(url)
        self.channels = RedisChannels(prefix: configuration.redisPrefix)
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.client = RedisClient(configuration: self.redis, eventLoopGroup: eventLoopGroup, logger: logger)
        let hub = self.hub
        let fallback = NodeInfo(id: configuration.nodeID ?? "", address: configuration.nodeAddress, connections: 0, startedAt: WallClock.milliseconds())
        self.directory = RedisNodeDirectory(client: self.client, channels: self.channels) {
            hub.value.load()?.localNodeInfo() ?? fallback
        }
    }

    /// The history store of the namespaces that keep history (nil when none does), with their TTLs.
    func historyStore(_ configuration: HubConfiguration, node: String) -> RedisHistoryStore? {
        guard configuration.namespaces.values.contains(where: \.keepsHistory) else { return nil }
        let ttls = configuration.namespaces.compactMapValues { $0.keepsHistory ? $0.historyTTL : nil }
        return RedisHistoryStore(node: node, client: self.client, channels: self.channels, ttls: ttls, logger: self.logger)
    }

    /// The broker of node `node`, delivering to `local` (the hub's subscribers).
    func makeBroker(node: String, local: any BrokerDelivery) -> any Broker {
        let hub = self.hub
        let broker = RedisBroker(
            node: node, client: self.client, configuration: self.redis, local: local, channels: self.channels, eventLoopGroup: self.eventLoopGroup,
            logger: self.logger, onResubscribed: { hub.value.load()?.resynchronizeClients() },
            onHop: { hub.value.load()?.metrics.observeClusterHop(nanoseconds: $0) }
        )
        self.broker.withLock { $0 = broker }
        return broker
    }

    /// The cluster-wide presence directory of node `node`, reporting changes to `changes`; relayed
    /// signals go to the hub's connections.
    func makePresenceDirectory(node: String, changes: PresenceChanges, configuration: HubConfiguration) -> any PresenceDirectory {
        let hub = self.hub
        let namespaces = configuration.namespaces.filter(\.value.presence).map(\.key).sorted()
        // A connection of its own: reading a 10,000-member list must not hold publishes back.
        let client = RedisClient(configuration: self.redis, eventLoopGroup: self.eventLoopGroup, logger: self.logger)
        let directory = RedisPresenceDirectory(
            node: node, client: client, configuration: self.redis, keys: RedisPresenceKeys(channels: self.channels), namespaces: namespaces,
            changes: changes, eventLoopGroup: self.eventLoopGroup, logger: self.logger
        ) { client, frame in
            _ = hub.value.load()?.send(frame, toClient: client)
        }
        self.presence.withLock { $0 = (directory, client) }
        return directory
    }

    /// Ties the node to `hub`: its heartbeat reports the hub's connections, and `/ready` checks
    /// Redis (and the presence directory's connections).
    func attach(_ hub: Hub) {
        _ = self.hub.value.storeIfNil(hub)
        hub.readiness.register(RedisReadiness(client: self.client, broker: self.broker.withLock { $0 }))
        if let presence = self.presence.withLock({ $0 }) { hub.readiness.register(presence.directory) }
    }

    /// What runs, in start order (stopped in reverse, the command connection last): the
    /// command connection, the start-up check, the broker's subscription, the heartbeat, the
    /// presence directory's command connection and the directory (its subscription and sweep).
    var services: [any Service] {
        var services: [any Service] = [self.client, RedisStartupCheck(client: self.client, url: self.redactedURL, timeout: self.redis.connectTimeout)]
        if let broker = self.broker.withLock({ $0 }) { services.append(broker) }
        services.append(self.directory)
        if let presence = self.presence.withLock({ $0 }) { services += [presence.client, presence.directory] }
        return services
    }
}

/// Where the heartbeat and the broker's callbacks find the hub, which is made after them. Set
/// once; read without a lock, since the hop metric reads it for every message from another node.
private final class HubSlot: Sendable {
    let value = AtomicLazyReference<Hub>()
}

/// Stops the hub at start, with the reason, when Redis cannot be reached within the connect
/// timeout (as an unreachable PostgreSQL does); once connected, waits for shutdown. Later
/// outages only make `/ready` fail while the client reconnects.
struct RedisStartupCheck: Service {
    let client: RedisClient
    let url: String
    let timeout: TimeAmount

    func run() async throws {
        let deadline = ContinuousClock.now + .nanoseconds(self.timeout.nanoseconds)
        while !self.client.isConnected {
            guard !Task.isShuttingDownGracefully else { return }
            guard ContinuousClock.now < deadline else {
                throw RedisUnavailable("Redis at \(self.url) is unreachable: no connection within \(self.timeout.nanoseconds / 1_000_000) ms")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        try? await gracefulShutdown()
    }
}
