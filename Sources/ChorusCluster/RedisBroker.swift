public import ChorusCore
public import ChorusRedis
public import Logging
public import NIOCore
import Synchronization
public import ServiceLifecycle

/// The broker of a cluster on Redis pub/sub: every message a node publishes goes to Redis, and
/// every message a node delivers — its own clients' included — comes back from its Redis
/// subscription, so all nodes deliver one order (Redis's).
///
/// A node subscribes only to its interests (``RedisChannels``): one `SUBSCRIBE` per exact
/// topic and user, a pattern per namespace, one for `everything`. A publish costs one
/// `PUBLISH` (a batch, one pipelined write). Runs its pub/sub connection as a `Service`; the
/// command connection (`client`) is run by its owner, as it is shared with the history store.
public final class RedisBroker: Broker, Service {
    private let client: RedisClient
    private let subscriber: RedisSubscriber
    private let node: String
    private let channels: RedisChannels
    private let logger: Logger

    /// A broker for node `node` publishing on `client` and delivering to `local`, this node's
    /// subscribers; its pub/sub connection uses `configuration`. `onResubscribed` runs after a
    /// reconnection once every subscription is made again, before live messages flow.
    /// `onHop` gets, for each message from another node, the time since that node sent it.
    public init(
        node: String,
        client: RedisClient,
        configuration: RedisConfiguration,
        local: any BrokerDelivery,
        channels: RedisChannels = RedisChannels(),
        eventLoopGroup: any EventLoopGroup,
        logger: Logger = Logger(label: "chorus.cluster"),
        onResubscribed: @escaping @Sendable () -> Void = {},
        onHop: @escaping @Sendable (_ nanoseconds: Int64) -> Void = { _ in }
    ) {
        self.client = client
        self.node = node
        self.channels = channels
        self.logger = logger
        let receiver = Receiver(node: node, local: local, logger: logger, onHop: onHop)
        self.subscriber = RedisSubscriber(
            configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger, onResubscribed: onResubscribed,
            onMessage: { _, payload in receiver.receive(payload) }
        )
    }

    /// Keeps the pub/sub connection up (resubscribing after a loss) until shutdown.
    public func run() async throws {
        try await self.subscriber.run()
    }

    /// Whether the pub/sub connection is up with every subscription confirmed.
    public var isConnected: Bool {
        self.subscriber.isConnected
    }

    /// Whether publishes can reach Redis: the command connection is up (while it is down a
    /// publish would be dropped, so the hub refuses it with `unavailable`).
    public var isAvailable: Bool {
        self.client.isConnected
    }

    /// Publishes `message` to its channel (one `PUBLISH`); every node, this one included, delivers it from its subscription.
    public func publish(_ message: BrokerMessage) {
        self.client.send(self.command(for: message)).whenFailure { self.failed($0, count: 1) }
    }

    /// Publishes `messages` in order, as one pipelined write.
    public func publish(contentsOf messages: [BrokerMessage]) {
        guard !messages.isEmpty else { return }
        self.client.send(messages.map(self.command(for:))).whenFailure { self.failed($0, count: messages.count) }
    }

    /// Subscribes to `interest`'s channels or patterns; completes on `loop` once Redis has them.
    public func subscribe(to interest: BrokerInterest, on loop: any EventLoop) -> EventLoopFuture<Void> {
        let confirmations = self.channels.subscriptions(for: interest).map { subscription in
            switch subscription {
            case .channel(let name): self.subscriber.subscribe([name], confirmedOn: loop)
            case .pattern(let pattern): self.subscriber.psubscribe([pattern], confirmedOn: loop)
            }
        }
        return EventLoopFuture.andAllSucceed(confirmations, on: loop)
    }

    /// Unsubscribes from `interest`'s channels or patterns.
    public func unsubscribe(from interest: BrokerInterest) {
        for subscription in self.channels.subscriptions(for: interest) {
            switch subscription {
            case .channel(let name): self.subscriber.unsubscribe([name])
            case .pattern(let pattern): self.subscriber.punsubscribe([pattern])
            }
        }
    }

    private func command(for message: BrokerMessage) -> RESPCommand {
        RESPCommand("PUBLISH", [.string(self.channels.channel(for: message.target)), .bytes(BrokerWireFormat.payload(of: message, origin: self.node))])
    }

    private func failed(_ error: any Error, count: Int) {
        self.logger.warning("cannot publish to Redis; \(count) message(s) lost", metadata: ["error": "\(error)"])
    }
}

/// Reads what the subscription brings and hands it to this node's subscribers, on the
/// subscriber connection's event loop (one thread, so the filter needs no more than an
/// uncontended lock).
private final class Receiver: Sendable {
    let node: String
    let local: any BrokerDelivery
    let logger: Logger
    let repeats = Mutex(RepeatFilter())
    let onHop: @Sendable (Int64) -> Void

    init(node: String, local: any BrokerDelivery, logger: Logger, onHop: @escaping @Sendable (Int64) -> Void) {
        self.node = node
        self.local = local
        self.logger = logger
        self.onHop = onHop
    }

    func receive(_ payload: ByteBuffer) {
        guard let decoded = BrokerWireFormat.decode(payload, node: self.node) else {
            self.logger.warning("dropped a Redis message that is not a Chorus message", metadata: ["bytes": "\(payload.readableBytes)"])
            return
        }
        guard !self.repeats.withLock({ $0.isRepeat(decoded.message, origin: decoded.origin) }) else { return }
        if decoded.origin != self.node { self.onHop((WallClock.microseconds() - decoded.sentAt) * 1000) }
        self.local.deliver(decoded.message)
    }
}
