public import CoreMetrics
public import Prometheus

/// swift-prometheus's `PrometheusMetricsFactory`, plus the `# HELP` text and histogram buckets of
/// the hub's metrics (``HubMetricName``), which swift-metrics has no way to carry. Metrics of
/// other labels go to `PrometheusMetricsFactory` unchanged.
///
/// ```swift
/// let prometheus = ChorusPrometheusMetricsFactory()
/// MetricsSystem.bootstrap(prometheus)
/// let server = try await ChorusServer(configuration: configuration, metricsExposition: .prometheus(prometheus.registry))
/// ```
public struct ChorusPrometheusMetricsFactory: MetricsFactory {
    /// Where every metric made through this factory is registered, for the exposition.
    public var registry: PrometheusCollectorRegistry { self.base.registry }
    private let base: PrometheusMetricsFactory

    /// - Parameter registry: by default a new one, which ``registry`` then returns.
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.base = PrometheusMetricsFactory(registry: registry)
    }

    /// A counter; a hub counter gets its HELP text.
    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        guard let descriptor = Self.descriptor(label: label) else {
            return self.base.makeCounter(label: label, dimensions: dimensions)
        }
        return self.registry.makeCounter(descriptor: descriptor, labels: dimensions)
    }

    /// A floating-point counter, from `PrometheusMetricsFactory` (the hub has none).
    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        self.base.makeFloatingPointCounter(label: label, dimensions: dimensions)
    }

    /// A gauge or, aggregated, a histogram; a hub metric gets its HELP text and buckets.
    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard let name = HubMetricName(rawValue: label) else {
            return self.base.makeRecorder(label: label, dimensions: dimensions, aggregate: aggregate)
        }
        guard aggregate else {
            return self.registry.makeGauge(descriptor: Self.descriptor(name), labels: dimensions)
        }
        return self.registry.makeValueHistogram(descriptor: Self.descriptor(name), labels: dimensions, buckets: HubMetricName.commitBatchBuckets)
    }

    /// A gauge; a hub gauge gets its HELP text.
    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        guard let descriptor = Self.descriptor(label: label) else {
            return self.base.makeMeter(label: label, dimensions: dimensions)
        }
        return self.registry.makeGauge(descriptor: descriptor, labels: dimensions)
    }

    /// A duration histogram; a hub timer gets its HELP text and buckets.
    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        if let help = EventBusMetrics.help[label] {
            let descriptor = MetricNameDescriptor(metricName: label, unitName: "", helpText: help)
            return self.registry.makeDurationHistogram(descriptor: descriptor, labels: dimensions, buckets: EventBusMetrics.durationBuckets)
        }
        guard let name = HubMetricName(rawValue: label) else {
            return self.base.makeTimer(label: label, dimensions: dimensions)
        }
        return self.registry.makeDurationHistogram(descriptor: Self.descriptor(name), labels: dimensions, buckets: HubMetricName.deliveryLatencyBuckets)
    }

    /// Unregisters the counter.
    public func destroyCounter(_ handler: any CounterHandler) {
        self.base.destroyCounter(handler)
    }

    /// Unregisters the counter.
    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        self.base.destroyFloatingPointCounter(handler)
    }

    /// Unregisters the gauge or histogram.
    public func destroyRecorder(_ handler: any RecorderHandler) {
        self.base.destroyRecorder(handler)
    }

    /// Unregisters the gauge.
    public func destroyMeter(_ handler: any MeterHandler) {
        self.base.destroyMeter(handler)
    }

    /// Unregisters the histogram.
    public func destroyTimer(_ handler: any TimerHandler) {
        self.base.destroyTimer(handler)
    }

    /// A hub metric's, or an event bus or transform metric's (which exist only once the bus
    /// runs, or where a transform is configured, so they are not ``HubMetricName``s); nil for
    /// other labels.
    private static func descriptor(label: String) -> MetricNameDescriptor? {
        if let name = HubMetricName(rawValue: label) { return Self.descriptor(name) }
        return (EventBusMetrics.help[label] ?? HubTransforms.help[label]).map { MetricNameDescriptor(metricName: label, unitName: "", helpText: $0) }
    }

    /// The metric's full name is the label (`chorus_…`, unit included).
    private static func descriptor(_ name: HubMetricName) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name.rawValue, unitName: "", helpText: name.help)
    }
}
