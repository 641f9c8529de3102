import ChorusCore
import NIOCore

/// The limits shared by every event loop: connections and connection attempts per client
/// address, connections per user, HTTP API requests per key. Per-connection limits
/// (subscriptions, publish rate) live on the connections themselves.
///
/// Each refusal is counted in `chorus_limit_rejections_total` and answered with an error that
/// names the limit and its option.
final class HubLimits: Sendable {
    let configuration: HubConfiguration
    private let metrics: HubMetrics
    private let connectionsPerIP: ConnectionCounter
    private let connectionsPerUser: ConnectionCounter
    private let connectAttempts: KeyedRateLimiter
    private let apiRequests: KeyedRateLimiter
    /// Per user (token `sub`): messages published over the HTTP API with a client token.
    private let userPublishes: KeyedRateLimiter
    let trustedProxies: Set<String>

    init(configuration: HubConfiguration, metrics: HubMetrics) {
        self.configuration = configuration
        self.metrics = metrics
        self.connectionsPerIP = ConnectionCounter(limit: configuration.maxConnectionsPerIP)
        self.connectionsPerUser = ConnectionCounter(limit: configuration.maxConnectionsPerUser)
        self.connectAttempts = KeyedRateLimiter(rate: configuration.maxConnectRatePerIP)
        self.apiRequests = KeyedRateLimiter(rate: configuration.maxAPIRatePerKey)
        self.userPublishes = KeyedRateLimiter(rate: configuration.maxPublishRatePerConnection)
        self.trustedProxies = Set(configuration.trustedProxies)
    }

    static func now() -> UInt64 {
        NIODeadline.now().uptimeNanoseconds
    }

    /// Admits a WebSocket or SSE connection attempt from `address`: counts the attempt, then
    /// the connection, which is released when `channel` closes.
    func admitConnection(from address: String?, channel: any Channel) throws(ProtocolError) {
        guard let address else { return }
        let attempt = self.connectAttempts.take(address, now: Self.now())
        guard attempt.allowed else {
            throw self.refuse(.connectRatePerIP, "too many connection attempts from \(address): the limit is \(self.configuration.maxConnectRatePerIP) a second (max_connect_rate_per_ip)", retryAfter: attempt.retryAfter)
        }
        try self.count(address, in: self.connectionsPerIP, until: channel) {
            self.refuse(.connectionsPerIP, "too many connections from \(address): the limit is \(self.configuration.maxConnectionsPerIP) (max_connections_per_ip)", retryAfter: 1)
        }
    }

    /// Admits one more connection of `user`, released when `channel` closes.
    func admitUser(_ user: String, channel: any Channel) throws(ProtocolError) {
        try self.count(user, in: self.connectionsPerUser, until: channel) {
            self.refuse(.connectionsPerUser, "user '\(user)' has too many connections: the limit is \(self.configuration.maxConnectionsPerUser) (max_connections_per_user)", retryAfter: 1)
        }
    }

    /// Counts a connection for `key` until `channel` closes; unlimited counters cost nothing.
    private func count(_ key: String, in counter: ConnectionCounter, until channel: any Channel, refusal: () -> ProtocolError) throws(ProtocolError) {
        guard counter.limit > 0 else { return }
        guard counter.acquire(key) else { throw refusal() }
        channel.closeFuture.whenComplete { _ in counter.release(key) }
    }

    var isAPIUnlimited: Bool { self.apiRequests.isUnlimited }

    /// Counts an HTTP API request against `key`'s budget.
    func admitAPIRequest(key: String) throws(ProtocolError) {
        let request = self.apiRequests.take(key, now: Self.now())
        guard request.allowed else {
            throw self.refuse(.apiRatePerKey, "too many API requests: the limit is \(self.configuration.maxAPIRatePerKey) a second (max_api_rate_per_key)", retryAfter: request.retryAfter)
        }
    }

    /// Checks that one connection may hold `total` subscriptions.
    func admitSubscriptions(total: Int) throws(ProtocolError) {
        let limit = self.configuration.maxSubscriptionsPerConnection
        guard limit == 0 || total <= limit else {
            throw self.refuse(.subscriptionsPerConnection, "a connection may hold at most \(limit) subscriptions (max_subscriptions_per_connection)")
        }
    }

    /// A connection's throttle for `limit` (publish or subscribe frames), or nil when unlimited.
    /// Subscribing may burst to `max_subscriptions_per_connection`, so a client can take all its
    /// subscriptions at once.
    func makeThrottle(_ limit: LimitKind) -> PublishThrottleBox? {
        let (rate, capacity) = limit == .subscribeRatePerConnection
            ? (self.configuration.maxSubscribeRatePerConnection, self.configuration.maxSubscriptionsPerConnection)
            : (self.configuration.maxPublishRatePerConnection, 0)
        return rate > 0 ? PublishThrottleBox(PublishThrottle(rate: rate, capacity: capacity, now: Self.now())) : nil
    }

    /// Takes a token from a connection's `throttle` for `limit`: nil when allowed, else the
    /// error to answer and whether the connection is to be closed (4029).
    func check(_ throttle: PublishThrottleBox, _ limit: LimitKind) -> (error: ProtocolError, abusive: Bool)? {
        let verdict = throttle.value.check(now: Self.now())
        guard verdict != .allowed else { return nil }
        let (what, option) = limit == .subscribeRatePerConnection
            ? ("subscribe frames", "max_subscribe_rate_per_connection")
            : ("messages", "max_publish_rate_per_connection")
        let error = self.refuse(limit, "sending \(what) faster than \(throttle.value.rate) a second (\(option))", retryAfter: 1)
        return (error, verdict == .abusive)
    }

    /// Takes `count` tokens from `user`'s publish budget over the HTTP API, shared by every
    /// caller with that user's token: all or none.
    func admitUserPublishes(_ user: String, count: Int) throws(ProtocolError) {
        let taken = self.userPublishes.take(user, count: count, now: Self.now())
        guard taken.allowed else {
            throw self.refuse(.publishRatePerUser, "publishing to \(count) topic(s) would exceed \(self.configuration.maxPublishRatePerConnection) messages a second for user '\(user)' (max_publish_rate_per_connection)", retryAfter: taken.retryAfter)
        }
    }

    /// Counts a refusal and describes it.
    func refuse(_ limit: LimitKind, _ message: String, retryAfter: Int? = nil) -> ProtocolError {
        self.metrics.limitRejected(limit)
        return ProtocolError(.rateLimited, message, retryAfter: retryAfter)
    }

    func clientAddress(peer: String?, forwardedFor: [String]) -> String? {
        ClientAddress.resolve(peer: peer, forwardedFor: forwardedFor, trustedProxies: self.trustedProxies)
    }
}

/// A connection's ``PublishThrottle``, boxed so that connections that never publish (or
/// subscribe) carry one pointer for it, not the whole state.
final class PublishThrottleBox {
    var value: PublishThrottle

    init(_ value: PublishThrottle) {
        self.value = value
    }
}
