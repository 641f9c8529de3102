/// The hub's metrics: the label each is recorded under through swift-metrics (the Prometheus
/// name, unit included), and what a Prometheus exposition says about it.
public enum HubMetricName: String, Sendable, CaseIterable {
    /// Gauge, by `transport`.
    case connections = "chorus_connections"
    /// Counter, by `transport`.
    case connectionsOpened = "chorus_connections_opened_total"
    /// Gauge.
    case subscriptions = "chorus_subscriptions"
    /// Gauge, counted when read (``Hub/updateCountedGauges()``).
    case topics = "chorus_topics"
    /// Counter.
    case messagesPublished = "chorus_messages_published_total"
    /// Counter, once per fan-out batch.
    case messagesDelivered = "chorus_messages_delivered_total"
    /// Counter, once per fan-out batch.
    case bytesOut = "chorus_bytes_out_total"
    /// Counter, by `code`.
    case errors = "chorus_errors_total"
    /// Counter.
    case protocolCloses = "chorus_protocol_closes_total"
    /// Counter.
    case slowConsumerDisconnects = "chorus_slow_consumer_disconnects_total"
    /// Counter, by `limit`.
    case limitRejections = "chorus_limit_rejections_total"
    /// Counter.
    case storeFailures = "chorus_store_failures_total"
    /// Histogram (a `Recorder`), buckets ``commitBatchBuckets``.
    case storeCommitBatchSize = "chorus_store_commit_batch_size"
    /// Gauge, counted when read (``Hub/updateCountedGauges()``).
    case idempotencyKeys = "chorus_idempotency_keys"
    /// Counter.
    case duplicatePublishes = "chorus_duplicate_publishes_total"
    /// Histogram (a `Timer`), buckets ``deliveryLatencyBuckets``.
    case deliveryLatency = "chorus_delivery_latency_seconds"
    /// Counter, by `outcome`: delivered, retried, removed, failed (``PushService``).
    case pushDeliveries = "chorus_push_deliveries_total"
    /// Histogram (a `Timer`), buckets ``deliveryLatencyBuckets``.
    case clusterHop = "chorus_cluster_hop_seconds"

    /// The `# HELP` text.
    public var help: String {
        switch self {
        case .connections: "Open client connections by transport."
        case .connectionsOpened: "Client connections accepted."
        case .subscriptions: "Subscriptions (connection, topic or pattern) in place."
        case .topics: "Topics and patterns with at least one subscriber."
        case .messagesPublished: "Messages accepted for delivery."
        case .messagesDelivered: "Message copies written to client connections."
        case .bytesOut: "Bytes of messages written to client connections."
        case .errors: "Errors returned to clients, by code."
        case .protocolCloses: "Connections the hub closed for a protocol violation."
        case .slowConsumerDisconnects: "Connections closed with 4008 because they fell behind."
        case .limitRejections: "Requests and connections refused by a limit, by limit."
        case .storeFailures: "Group commits the history store failed (their publishes got 'internal')."
        case .storeCommitBatchSize: "Messages per group commit of the history store."
        case .idempotencyKeys: "Idempotency keys remembered or in flight (at most max_idempotency_keys)."
        case .duplicatePublishes: "Publishes answered with an earlier publish's receipt (same idempotency_key) and not delivered."
        case .deliveryLatency: "Time from accepting a publish to writing it to the subscribers of one event loop."
        case .clusterHop: "Cluster (broker redis): time from a message leaving the node that published it to its arrival here through Redis, by the two nodes' clocks."
        case .pushDeliveries: "Web Push messages by outcome: delivered, retried (an attempt got 429, 5xx or no answer), removed (404/410: subscription forgotten), failed."
        }
    }

    /// Histogram buckets of ``storeCommitBatchSize`` (a swift-metrics `Recorder`).
    public static let commitBatchBuckets: [Double] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]

    /// Histogram buckets of ``deliveryLatency`` (a swift-metrics `Timer`).
    public static let deliveryLatencyBuckets: [Duration] = [
        .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(2.5),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1),
    ]
}
