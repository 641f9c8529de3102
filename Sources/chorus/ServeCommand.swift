import ChorusServer
import CoreMetrics
import Logging
import ServiceLifecycle
import UnixSignals

/// `chorus serve`: the hub with the executable's defaults (``HubConfiguration/serveDefaults``
/// and the demo's frame handlers), shut down gracefully on SIGTERM or SIGINT.
enum ServeCommand {
    static func run(_ arguments: [String]) async throws {
        if arguments.contains("--help") || arguments.contains("-h") {
            print(Help.serve)
            return
        }
        let configuration = try HubConfiguration.load(arguments: arguments, environment: Console.environment(), defaults: .serveDefaults)
        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "chorus")
        // The library records through swift-metrics; this executable chooses Prometheus and serves its registry.
        let prometheus = ChorusPrometheusMetricsFactory()
        MetricsSystem.bootstrap(prometheus)
        let server = try await ChorusServer(
            configuration: configuration,
            customHandlers: DemoFrameHandlers.all,
            metricsExposition: .prometheus(prometheus.registry),
            logger: logger
        ) { port in
            // Where a newcomer looks first; a wildcard address is reached on loopback.
            let host = ["0.0.0.0", "::", ""].contains(configuration.host) ? "127.0.0.1" : configuration.host
            let scheme = configuration.tlsCertificateFile == nil ? "http" : "https"
            let base = "\(scheme)://\(host.contains(":") ? "[\(host)]" : host):\(port)"
            logger.info("demo: \(base)/demo, dashboard: \(base)/dashboard")
        }
        let group = ServiceGroup(configuration: .init(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
