import ChorusServer
import CoreMetrics
import Logging

enum ServeCommand {
    static func run(_ arguments: [String]) async throws {
        if arguments.contains("--help") || arguments.contains("-h") {
            print(Help.serve)
            return
        }
        let configuration = try HubConfiguration.load(arguments: arguments, environment: Console.environment())
        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        // The library records through swift-metrics; this executable chooses Prometheus and serves its registry.
        let prometheus = ChorusPrometheusMetricsFactory()
        MetricsSystem.bootstrap(prometheus)
        let server = try await ChorusServer(
            configuration: configuration,
            customHandlers: DemoFrameHandlers.all,
            metricsExposition: .prometheus(prometheus.registry)
        )
        try await server.run()
    }
}
