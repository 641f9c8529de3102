public import Prometheus

/// What the HTTP API's `GET /metrics` answers: a text exposition rendered on each scrape. The
/// HTTP API has a `/metrics` route only when it is given one; an application that records the
/// hub's metrics into a backend of its own exports them its own way.
public struct MetricsExposition: Sendable {
    /// The response's `Content-Type`.
    public var contentType: String
    /// Renders the exposition's bytes.
    public var render: @Sendable () -> [UInt8]

    /// - Parameters:
    ///   - contentType: by default Prometheus's text format 0.0.4.
    ///   - render: the exposition's bytes, rendered on each scrape.
    public init(contentType: String = "text/plain; version=0.0.4; charset=utf-8", render: @escaping @Sendable () -> [UInt8]) {
        self.contentType = contentType
        self.render = render
    }

    /// Every metric of a Prometheus registry, e.g. a ``ChorusPrometheusMetricsFactory``'s.
    public static func prometheus(_ registry: PrometheusCollectorRegistry) -> Self {
        Self { registry.emitToBuffer() }
    }
}
