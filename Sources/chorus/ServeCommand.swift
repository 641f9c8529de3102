import ChorusServer
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
        let server = try await ChorusServer(configuration: configuration, customHandlers: DemoFrameHandlers.all)
        try await server.run()
    }
}
