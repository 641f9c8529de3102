import CoreMetrics
import Synchronization

/// The event bus's metrics: swift-metrics per consumer, and the totals and delivery times
/// `GET /api/events/stats` reads back (a metrics backend cannot be read).
///
/// Not ``HubMetricName``s, which exist from the hub's start: these exist once the bus runs,
/// per consumer (as the transform metrics exist only where configured).
final class EventBusMetrics: Sendable {
    /// The labels, as Prometheus names.
    enum Name {
        /// Counter: events appended (duplicates not counted).
        static let published = "chorus_events_published_total"
        /// Counter, by `consumer` and `outcome`: delivered, filtered, failed, retried, dead_lettered.
        static let deliveries = "chorus_event_deliveries_total"
        /// Counter, by `consumer` and `outcome`: a consumer transform's calls, labelled as
        /// `chorus_transform_calls_total` is (keep, drop, replace, error, trap, fuel, memory, bad_output).
        static let transformCalls = "chorus_event_transform_calls_total"
        /// Counter, by `consumer` and `result`: reloads of a consumer's transform module.
        static let transformReloads = "chorus_event_transform_reloads_total"
        /// Gauge, by `consumer`: last sequence − cursor + pending, set as the dispatcher looks.
        static let lag = "chorus_event_consumer_lag"
        /// Gauge, by `consumer`: its dead letters (the DLQ's size), set as the dispatcher looks.
        static let deadLetters = "chorus_event_dead_letters"
        /// Timer, by `consumer`: one attempt's duration.
        static let deliveryDuration = "chorus_event_delivery_duration_seconds"
    }

    /// How a delivery attempt counts.
    enum Outcome: String, CaseIterable {
        case delivered
        /// The consumer's transform dropped the event: acknowledged, never sent.
        case filtered
        case failed
        case retried
        case deadLettered = "dead_lettered"
    }

    /// Totals since start, and the last delivery times (for the average and p99).
    struct Totals: Sendable {
        var published = 0
        var outcomes: [Outcome: Int] = [:]
        var perConsumer: [String: [Outcome: Int]] = [:]
        /// The last ``sampleCount`` successful attempts' durations, in milliseconds.
        var durations: [Int64] = []
        var nextSample = 0
    }

    static let sampleCount = 4096

    /// The `# HELP` text of each, for Prometheus (`ChorusPrometheusMetricsFactory`).
    static let help: [String: String] = [
        Name.published: "Events appended to the event bus's log (duplicates not counted).",
        Name.deliveries: "Event deliveries by consumer and outcome: delivered, filtered (dropped by the consumer's transform), failed (an attempt that failed), retried (rescheduled), dead_lettered.",
        Name.transformCalls: "Calls of an event consumer's WebAssembly transform by consumer and outcome: keep, drop, replace, error, trap, fuel, memory, bad_output.",
        Name.transformReloads: "Reloads of an event consumer's WebAssembly transform by consumer and result: reloaded or failed.",
        Name.lag: "Events a consumer has not had delivered yet: the log's last sequence minus its cursor, plus its pending deliveries.",
        Name.deliveryDuration: "Time one delivery attempt to an event bus consumer took.",
        Name.deadLetters: "Events of a consumer in the dead-letter queue.",
    ]

    /// Histogram buckets of ``Name/deliveryDuration``: webhooks take up to their timeout.
    static let durationBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30),
    ]

    private let factory: any MetricsFactory
    private let published: Counter
    private let totals = Mutex(Totals())

    init(factory: any MetricsFactory) {
        self.factory = factory
        self.published = Counter(label: Name.published, factory: factory)
    }

    func eventsPublished(_ count: Int) {
        guard count > 0 else { return }
        self.published.increment(by: count)
        self.totals.withLock { $0.published += count }
    }

    /// One attempt's outcome (and, for a finished attempt, how long it took).
    func delivery(_ outcome: Outcome, consumer: String, duration: Int64? = nil) {
        Counter(label: Name.deliveries, dimensions: [("consumer", consumer), ("outcome", outcome.rawValue)], factory: self.factory)
            .increment()
        if let duration {
            CoreMetrics.Timer(label: Name.deliveryDuration, dimensions: [("consumer", consumer)], factory: self.factory)
                .recordMilliseconds(duration)
        }
        self.totals.withLock { totals in
            totals.outcomes[outcome, default: 0] += 1
            totals.perConsumer[consumer, default: [:]][outcome, default: 0] += 1
            guard outcome == .delivered, let duration else { return }
            if totals.durations.count < Self.sampleCount {
                totals.durations.append(duration)
            } else {
                totals.durations[totals.nextSample] = duration
            }
            totals.nextSample = (totals.nextSample + 1) % Self.sampleCount
        }
    }

    /// One call of `consumer`'s transform, by its outcome label.
    func transformCall(_ outcome: String, consumer: String) {
        Counter(label: Name.transformCalls, dimensions: [("consumer", consumer), ("outcome", outcome)], factory: self.factory).increment()
    }

    /// A reload of `consumer`'s transform: `reloaded` or `failed`.
    func transformReload(_ result: String, consumer: String) {
        Counter(label: Name.transformReloads, dimensions: [("consumer", consumer), ("result", result)], factory: self.factory).increment()
    }

    func lag(_ lag: Int, deadLetters: Int, consumer: String) {
        Meter(label: Name.lag, dimensions: [("consumer", consumer)], factory: self.factory).set(lag)
        Meter(label: Name.deadLetters, dimensions: [("consumer", consumer)], factory: self.factory).set(deadLetters)
    }

    var snapshot: Totals { self.totals.withLock { $0 } }
}
