import ChorusCore
public import CoreMetrics
import NIOCore
import NIOConcurrencyHelpers
import Synchronization

/// The hub's metrics, recorded through swift-metrics into the factory the hub is given, so an
/// application chooses the backend (the `chorus` executable: Prometheus).
///
/// Every metric object is made once, here: a hot-path update is one call on a handler made
/// beforehand (an atomic in the Prometheus backend), made once per fan-out batch, not once per
/// recipient. What the hub reads back itself (open connections, the totals of `/api/stats`)
/// is kept in local atomics as well, as a metrics backend cannot be read back.
public final class HubMetrics: Sendable {
    private let connections: [TransportKind: Meter]
    private let connectionsOpened: [TransportKind: Counter]
    private let subscriptions: Meter
    private let topics: Meter
    private let published: Counter
    private let deliveredMessages: Counter
    private let bytesOut: Counter
    private let errors: [ErrorCode: Counter]
    private let closes: Counter
    private let deliveryLatency: CoreMetrics.Timer
    private let clusterHop: CoreMetrics.Timer
    private let slowConsumers: Counter
    private let limitRejections: [LimitKind: Counter]
    private let storeFailures: Counter
    private let commitBatch: Recorder
    private let idempotencyKeys: Meter
    private let duplicatePublishes: Counter
    private let pushDeliveries: [PushService.Outcome: Counter]
    private let openConnections = Atomic<Int>(0)
    private let openSSEConnections = Atomic<Int>(0)
    private let openSubscriptions = Atomic<Int>(0)
    private let publishedTotal = Atomic<Int>(0)
    private let deliveredTotal = Atomic<Int>(0)
    private let bytesOutTotal = Atomic<Int>(0)
    private let errorTotals = NIOLockedValueBox([String: Int]())

    /// - Parameter factory: the swift-metrics backend to record into; by default the one the
    ///   process bootstrapped (`MetricsSystem.bootstrap`), which records nothing until then.
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        func counter(_ name: HubMetricName, _ dimensions: [(String, String)] = []) -> Counter {
            Counter(label: name.rawValue, dimensions: dimensions, factory: factory)
        }
        func meter(_ name: HubMetricName, _ dimensions: [(String, String)] = []) -> Meter {
            Meter(label: name.rawValue, dimensions: dimensions, factory: factory)
        }
        self.connections = Dictionary(uniqueKeysWithValues: TransportKind.allCases.map {
            ($0, meter(.connections, [("transport", $0.rawValue)]))
        })
        self.connectionsOpened = Dictionary(uniqueKeysWithValues: TransportKind.allCases.map {
            ($0, counter(.connectionsOpened, [("transport", $0.rawValue)]))
        })
        self.subscriptions = meter(.subscriptions)
        self.topics = meter(.topics)
        self.published = counter(.messagesPublished)
        self.deliveredMessages = counter(.messagesDelivered)
        self.bytesOut = counter(.bytesOut)
        self.errors = Dictionary(uniqueKeysWithValues: ErrorCode.allCases.map {
            ($0, counter(.errors, [("code", $0.rawValue)]))
        })
        self.closes = counter(.protocolCloses)
        self.slowConsumers = counter(.slowConsumerDisconnects)
        self.limitRejections = Dictionary(uniqueKeysWithValues: LimitKind.allCases.map {
            ($0, counter(.limitRejections, [("limit", $0.rawValue)]))
        })
        self.storeFailures = counter(.storeFailures)
        self.commitBatch = Recorder(label: HubMetricName.storeCommitBatchSize.rawValue, aggregate: true, factory: factory)
        self.idempotencyKeys = meter(.idempotencyKeys)
        self.duplicatePublishes = counter(.duplicatePublishes)
        self.pushDeliveries = Dictionary(uniqueKeysWithValues: PushService.Outcome.allCases.map {
            ($0, counter(.pushDeliveries, [("outcome", $0.rawValue)]))
        })
        self.deliveryLatency = CoreMetrics.Timer(label: HubMetricName.deliveryLatency.rawValue, factory: factory)
        self.clusterHop = CoreMetrics.Timer(label: HubMetricName.clusterHop.rawValue, factory: factory)
    }

    func connectionOpened(_ transport: TransportKind) {
        self.connections[transport]?.increment()
        self.connectionsOpened[transport]?.increment()
        self.openConnections.add(1, ordering: .relaxed)
        if transport == .sse { self.openSSEConnections.add(1, ordering: .relaxed) }
    }

    func connectionClosed(_ transport: TransportKind) {
        self.connections[transport]?.decrement()
        self.openConnections.subtract(1, ordering: .relaxed)
        if transport == .sse { self.openSSEConnections.subtract(1, ordering: .relaxed) }
    }

    /// Client connections (WebSocket and SSE) open right now.
    public var connectionCount: Int {
        self.openConnections.load(ordering: .relaxed)
    }

    /// SSE streams open right now: while there are none, messages skip their SSE encoding.
    public var sseConnectionCount: Int {
        self.openSSEConnections.load(ordering: .relaxed)
    }

    /// Subscriptions in place right now, counted per connection and pattern.
    public var subscriptionCount: Int {
        self.openSubscriptions.load(ordering: .relaxed)
    }

    func subscriptionAdded() {
        self.subscriptions.increment()
        self.openSubscriptions.add(1, ordering: .relaxed)
    }

    func subscriptionRemoved() {
        self.subscriptions.decrement()
        self.openSubscriptions.subtract(1, ordering: .relaxed)
    }

    /// Topics are counted across event loops when metrics are read, as each loop has its own trie.
    func setTopicCount(_ count: Int) {
        self.topics.set(count)
    }

    /// Keys are counted when metrics are read, from the idempotency store.
    func setIdempotencyKeyCount(_ count: Int) {
        self.idempotencyKeys.set(count)
    }

    func duplicatePublishAnswered() {
        self.duplicatePublishes.increment()
    }

    /// One Web Push attempt's or message's outcome (retried counts attempts, the rest messages).
    func pushDelivery(_ outcome: PushService.Outcome) {
        self.pushDeliveries[outcome]?.increment()
    }

    func messagePublished() {
        self.published.increment()
        self.publishedTotal.add(1, ordering: .relaxed)
    }

    func delivered(count: Int, bytes: Int) {
        guard count > 0 else { return }
        self.deliveredMessages.increment(by: count)
        self.bytesOut.increment(by: bytes)
        self.deliveredTotal.add(count, ordering: .relaxed)
        self.bytesOutTotal.add(bytes, ordering: .relaxed)
    }

    func observeDeliveryLatency(since start: NIODeadline) {
        self.deliveryLatency.recordNanoseconds((NIODeadline.now() - start).nanoseconds)
    }

    /// A message from another node arrived through Redis `nanoseconds` after it was sent.
    func observeClusterHop(nanoseconds: Int64) {
        self.clusterHop.recordNanoseconds(max(0, nanoseconds))
    }

    func error(_ code: ErrorCode) {
        self.errors[code]?.increment()
        self.errorTotals.withLockedValue { $0[code.rawValue, default: 0] += 1 }
    }

    func storeFailed() {
        self.storeFailures.increment()
    }

    func committed(batchSize: Int) {
        self.commitBatch.record(batchSize)
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

    /// Counts since the hub started, as `/api/stats` shows them.
    public struct Totals: Sendable {
        /// Messages accepted for delivery.
        public var published: Int
        /// Message copies written to client connections.
        public var delivered: Int
        /// Bytes of those copies.
        public var bytesOut: Int
        /// Errors returned to clients, by code (every code, zero included).
        public var errors: [String: Int]
    }

    /// The counts since the hub started, read from the hub's own atomics.
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
}
