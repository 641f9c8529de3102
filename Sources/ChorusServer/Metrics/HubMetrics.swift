import ChorusCore
import NIOCore
import Prometheus
import NIOConcurrencyHelpers
import Synchronization

/// The hub's Prometheus metrics. Hot-path updates are made once per fan-out batch, not once
/// per recipient: the counters are atomics shared by every event loop.
public final class HubMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let connections: [TransportKind: Gauge]
    private let connectionsOpened: [TransportKind: Counter]
    private let subscriptions: Gauge
    private let topics: Gauge
    private let published: Counter
    private let deliveredMessages: Counter
    private let bytesOut: Counter
    private let errors: [ErrorCode: Counter]
    private let closes: Counter
    private let deliveryLatency: DurationHistogram
    private let slowConsumers: Counter
    private let limitRejections: [LimitKind: Counter]
    private let storeFailures: Counter
    private let commitBatch: ValueHistogram
    private let idempotencyKeys: Gauge
    private let duplicatePublishes: Counter
    // Plain totals for /api/stats: Prometheus counters cannot be read back.
    private let openConnections = Atomic<Int>(0)
    private let publishedTotal = Atomic<Int>(0)
    private let deliveredTotal = Atomic<Int>(0)
    private let bytesOutTotal = Atomic<Int>(0)
    private let errorTotals = NIOLockedValueBox([String: Int]())

    public init() {
        let registry = self.registry
        self.connections = Dictionary(uniqueKeysWithValues: TransportKind.allCases.map {
            ($0, registry.makeGauge(descriptor: Self.descriptor("chorus_connections", "Open client connections by transport."), labels: [("transport", $0.rawValue)]))
        })
        self.connectionsOpened = Dictionary(uniqueKeysWithValues: TransportKind.allCases.map {
            ($0, registry.makeCounter(descriptor: Self.descriptor("chorus_connections_opened_total", "Client connections accepted."), labels: [("transport", $0.rawValue)]))
        })
        self.subscriptions = registry.makeGauge(descriptor: Self.descriptor("chorus_subscriptions", "Subscriptions (connection, topic or pattern) in place."))
        self.topics = registry.makeGauge(descriptor: Self.descriptor("chorus_topics", "Topics and patterns with at least one subscriber."))
        self.published = registry.makeCounter(descriptor: Self.descriptor("chorus_messages_published_total", "Messages accepted for delivery."))
        self.deliveredMessages = registry.makeCounter(descriptor: Self.descriptor("chorus_messages_delivered_total", "Message copies written to client connections."))
        self.bytesOut = registry.makeCounter(descriptor: Self.descriptor("chorus_bytes_out_total", "Bytes of messages written to client connections."))
        self.errors = Dictionary(uniqueKeysWithValues: ErrorCode.allCases.map {
            ($0, registry.makeCounter(descriptor: Self.descriptor("chorus_errors_total", "Errors returned to clients, by code."), labels: [("code", $0.rawValue)]))
        })
        self.closes = registry.makeCounter(descriptor: Self.descriptor("chorus_protocol_closes_total", "Connections the hub closed for a protocol violation."))
        self.slowConsumers = registry.makeCounter(descriptor: Self.descriptor("chorus_slow_consumer_disconnects_total", "Connections closed with 4008 because they fell behind."))
        self.limitRejections = Dictionary(uniqueKeysWithValues: LimitKind.allCases.map {
            ($0, registry.makeCounter(descriptor: Self.descriptor("chorus_limit_rejections_total", "Requests and connections refused by a limit, by limit."), labels: [("limit", $0.rawValue)]))
        })
        self.storeFailures = registry.makeCounter(descriptor: Self.descriptor("chorus_store_failures_total", "Group commits the history store failed (their publishes got 'internal')."))
        self.commitBatch = registry.makeValueHistogram(
            descriptor: Self.descriptor("chorus_store_commit_batch_size", "Messages per group commit of the history store."),
            buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]
        )
        self.idempotencyKeys = registry.makeGauge(descriptor: Self.descriptor("chorus_idempotency_keys", "Idempotency keys remembered or in flight (at most max_idempotency_keys)."))
        self.duplicatePublishes = registry.makeCounter(descriptor: Self.descriptor("chorus_duplicate_publishes_total", "Publishes answered with an earlier publish's receipt (same idempotency_key) and not delivered."))
        self.deliveryLatency = registry.makeDurationHistogram(
            descriptor: Self.descriptor("chorus_delivery_latency_seconds", "Time from accepting a publish to writing it to the subscribers of one event loop."),
            buckets: [.microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5),
                      .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1)]
        )
    }

    /// A descriptor for the full metric name (`chorus_…`); the unit is part of the name already.
    private static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    func connectionOpened(_ transport: TransportKind) {
        self.connections[transport]?.increment()
        self.connectionsOpened[transport]?.increment()
        self.openConnections.add(1, ordering: .relaxed)
    }

    func connectionClosed(_ transport: TransportKind) {
        self.connections[transport]?.decrement()
        self.openConnections.subtract(1, ordering: .relaxed)
    }

    /// Client connections (WebSocket and SSE) open right now.
    public var connectionCount: Int {
        self.openConnections.load(ordering: .relaxed)
    }

    func subscriptionAdded() {
        self.subscriptions.increment()
    }

    func subscriptionRemoved() {
        self.subscriptions.decrement()
    }

    /// Topics are counted across event loops when metrics are read, as each loop has its own trie.
    func setTopicCount(_ count: Int) {
        self.topics.set(Int64(count))
    }

    /// Keys are counted when metrics are read, from the idempotency store.
    func setIdempotencyKeyCount(_ count: Int) {
        self.idempotencyKeys.set(Int64(count))
    }

    func duplicatePublishAnswered() {
        self.duplicatePublishes.increment()
    }

    func messagePublished() {
        self.published.increment()
        self.publishedTotal.add(1, ordering: .relaxed)
    }

    func delivered(count: Int, bytes: Int) {
        guard count > 0 else { return }
        self.deliveredMessages.increment(by: Int64(count))
        self.bytesOut.increment(by: Int64(bytes))
        self.deliveredTotal.add(count, ordering: .relaxed)
        self.bytesOutTotal.add(bytes, ordering: .relaxed)
    }

    func observeDeliveryLatency(since start: NIODeadline) {
        self.deliveryLatency.recordNanoseconds((NIODeadline.now() - start).nanoseconds)
    }

    func error(_ code: ErrorCode) {
        self.errors[code]?.increment()
        self.errorTotals.withLockedValue { $0[code.rawValue, default: 0] += 1 }
    }

    func storeFailed() {
        self.storeFailures.increment()
    }

    func committed(batchSize: Int) {
        self.commitBatch.record(Int64(batchSize))
    }

    func protocolClose() {
        self.closes.increment()
    }

    func slowConsumerDisconnected() {
        self.slowConsumers.increment()
    }

    func limitRejected(_ limit: LimitKind) {
        self.limitRejections[limit]?.increment()
    }

    public struct Totals: Sendable {
        public var published: Int
        public var delivered: Int
        public var bytesOut: Int
        public var errors: [String: Int]
    }

    public func totals() -> Totals {
        var errors = self.errorTotals.withLockedValue { $0 }
        for code in ErrorCode.allCases where errors[code.rawValue] == nil { errors[code.rawValue] = 0 }
        return Totals(
            published: self.publishedTotal.load(ordering: .relaxed),
            delivered: self.deliveredTotal.load(ordering: .relaxed),
            bytesOut: self.bytesOutTotal.load(ordering: .relaxed),
            errors: errors
        )
    }

    /// The Prometheus text exposition of every metric.
    public func exposition() -> [UInt8] {
        self.registry.emitToBuffer()
    }
}
