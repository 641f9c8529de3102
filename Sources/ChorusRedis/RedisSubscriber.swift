public import Logging
public import NIOCore
public import NIOPosix
public import ServiceLifecycle

/// A pub/sub connection of its own, kept up by ``run()`` (a swift-service-lifecycle `Service`).
///
/// Messages go to the handler on the connection's event loop as (channel, payload) slices of
/// the bytes read. Subscribing and unsubscribing are idempotent and safe from any thread;
/// they take effect on the server as soon as it is connected. After a reconnection every
/// subscription is made again and confirmed, then `onResubscribed` runs (messages published
/// while the connection was down are lost to pub/sub: the hook is where to fetch them from
/// a stream), then ``isConnected`` turns true.
public final class RedisSubscriber: Service, Sendable {
    /// Receives each message: the channel it was published to (for a pattern subscription,
    /// the channel that matched) and its payload.
    public typealias MessageHandler = @Sendable (_ channel: ByteBuffer, _ payload: ByteBuffer) -> Void

    private let subscriptions: RedisSubscriptions
    private let manager: RedisConnectionManager

    /// A subscriber for `configuration`, on one event loop of `eventLoopGroup`; it connects once ``run()`` runs.
    public init(
        configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "chorus.redis.subscriber"),
        onResubscribed: @escaping @Sendable () -> Void = {},
        onMessage: @escaping MessageHandler
    ) {
        let subscriptions = RedisSubscriptions(onMessage: onMessage)
        self.subscriptions = subscriptions
        self.manager = RedisConnectionManager(
            connector: RedisConnector(configuration: configuration, eventLoop: eventLoopGroup.next()),
            logger: logger,
            pushes: { subscriptions.route($0) },
            messages: onMessage,
            prepare: { channel, isFirst in
                _ = try await subscriptions.resubscribe(on: channel).get()
                if !isFirst {
                    onResubscribed()
                }
            }
        )
    }

    /// Connects, resubscribes after a loss, closes on graceful shutdown; returns once closed.
    public func run() async throws {
        await self.manager.run()
    }

    /// Whether the connection is up with every subscription confirmed.
    public var isConnected: Bool {
        self.manager.isConnected
    }

    /// The connection state now, then each change (true: connected and subscribed).
    public func connectionStates() -> AsyncStream<Bool> {
        self.manager.states()
    }

    /// Subscribes to `channels` (`SUBSCRIBE`).
    public func subscribe(_ channels: [String]) {
        self.subscriptions.change(.channel, channels, subscribing: true)
    }

    /// Subscribes to `channels` (`SUBSCRIBE`); the future (on `loop`) completes once the
    /// server has the subscription, or fails with ``RedisError/Code/notConnected`` while the
    /// connection is down (the subscription is made on the next connection all the same).
    public func subscribe(_ channels: [String], confirmedOn loop: any EventLoop) -> EventLoopFuture<Void> {
        let promise = loop.makePromise(of: Void.self)
        self.subscriptions.change(.channel, channels, subscribing: true, confirmed: promise)
        return promise.futureResult
    }

    /// Subscribes to the glob-style `patterns` (`PSUBSCRIBE`), confirmed as ``subscribe(_:confirmedOn:)``.
    public func psubscribe(_ patterns: [String], confirmedOn loop: any EventLoop) -> EventLoopFuture<Void> {
        let promise = loop.makePromise(of: Void.self)
        self.subscriptions.change(.pattern, patterns, subscribing: true, confirmed: promise)
        return promise.futureResult
    }

    /// Unsubscribes from `channels` (`UNSUBSCRIBE`).
    public func unsubscribe(_ channels: [String]) {
        self.subscriptions.change(.channel, channels, subscribing: false)
    }

    /// Subscribes to the glob-style `patterns` (`PSUBSCRIBE`).
    public func psubscribe(_ patterns: [String]) {
        self.subscriptions.change(.pattern, patterns, subscribing: true)
    }

    /// Unsubscribes from `patterns` (`PUNSUBSCRIBE`).
    public func punsubscribe(_ patterns: [String]) {
        self.subscriptions.change(.pattern, patterns, subscribing: false)
    }

    /// Subscribes to the shard `channels` (`SSUBSCRIBE`, Redis 7; one shard's slot per
    /// channel in a Redis Cluster, which this client does not route).
    public func ssubscribe(_ channels: [String]) {
        self.subscriptions.change(.shard, channels, subscribing: true)
    }

    /// Unsubscribes from the shard `channels` (`SUNSUBSCRIBE`).
    public func sunsubscribe(_ channels: [String]) {
        self.subscriptions.change(.shard, channels, subscribing: false)
    }
}
