import NIOCore
import Synchronization

/// `chorus bench echo`: M WebSocket connections each keep D stamped messages in flight to an
/// echo endpoint; reports round trips per second and their latency.
enum EchoMode {
    static let usage = """
        Usage: chorus bench echo [options]
          --url URL               echo endpoint. Default ws://127.0.0.1:8080/echo (a hub started with
                                  --echo-endpoint). {topic} is replaced by echoN, one per connection,
                                  so an Nchan pubsub location (ws://…/pubsub/{topic}) works as a round trip.
          --connections 500       WebSocket connections
          --pipeline 1            messages in flight per connection
        \(CommonOptions.usage)
        """

    static func run(_ arguments: inout BenchArguments) async throws -> BenchResult {
        let common = try CommonOptions(&arguments, defaultDuration: 10)
        let endpoint = try EndpointTemplate(arguments.string("--url", default: "ws://127.0.0.1:8080/echo")!)
        let count = try arguments.integer("--connections", default: 500)
        let depth = try arguments.integer("--pipeline", default: 1, in: 1...10_000)
        try arguments.finish()
        guard endpoint.scheme == .ws else { throw BenchError("--url: echo needs a WebSocket URL (ws://…)") }

        let loops = LoopTallies(threads: common.threads)
        let connector = try common.connector(for: endpoint)
        let channels = Mutex<[any Channel]>([])
        let payloadSize = common.payloadSize
        ProgressLog.line("echo", "opening \(count.grouped) connections to \(endpoint.host):\(endpoint.port)\(endpoint.target)")
        let opening = NIODeadline.now()
        let shares = ConnectionOpener.roundRobin(0..<count, over: loops.tallies)
        let opened = try await ConnectionOpener.openAll(shares, concurrency: common.connectConcurrency) { index, tally in
            let upgraded = tally.eventLoop.makePromise(of: Void.self)
            return connector.connect(on: tally.eventLoop, sourceIndex: index) {
                EchoHandler(endpoint: endpoint, source: index, depth: depth, payloadSize: payloadSize, tally: tally.value, opened: upgraded)
            }.flatMap { channel in
                upgraded.futureResult.map { channels.withLock { $0.append(channel) } }
            }.flatMapError { error in
                upgraded.fail(error)
                return tally.eventLoop.makeFailedFuture(error)
            }
        }
        let connectSeconds = Double((NIODeadline.now() - opening).nanoseconds) / 1e9
        ProgressLog.line("echo", "\(opened.connected.grouped) open, \((count - opened.connected).grouped) failed")
        guard opened.connected > 0 else { throw BenchError("no echo connection could be opened: \(opened.errors.counts)") }

        let window = CPUWindow(server: common.server)
        for channel in channels.withLock({ $0 }) { channel.pipeline.fireUserInboundEventTriggered(EchoStart()) }
        // The figures are those at the deadline; then the connections stop sending.
        let tally = try await loops.measure(for: common.duration, mode: "echo", window: window, counting: "round trips")
        let seconds = window.seconds
        let serverCPU = window.serverSeconds
        let generatorCPU = window.generatorSeconds
        for channel in channels.withLock({ $0 }) { channel.close(promise: nil) }
        await loops.shutdown()

        var result = BenchResult(mode: "echo")
        result.addField("server", .string(common.serverProtocol.rawValue))
        result.add("connections", integer: opened.connected, "connections")
        result.add("connect_failures", integer: count - opened.connected, "connect failures")
        result.add("connect_seconds", number: connectSeconds, "time to open them", unit: " s")
        result.add("pipeline", integer: depth, "in flight per connection")
        result.add("round_trips", integer: tally.deliveries, "round trips")
        result.add("round_trips_per_second", integer: Int(Double(tally.deliveries) / seconds), "round trips (echoed messages) per second")
        result.add("closed_by_server", integer: tally.closedByServer, "closed by the server")
        result.add("errors", integer: tally.errors.total + opened.errors.total, "errors")
        result.addLatency("latency", tally.latency, "round-trip latency")
        result.addServerCPU(serverCPU, windowSeconds: seconds, work: tally.deliveries, plural: "round_trips", singular: "round_trip")
        result.addGeneratorCPU(window: generatorCPU, windowSeconds: seconds, total: ResourceUsage.cpuSeconds())
        return result
    }
}
