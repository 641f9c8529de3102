import ChorusJWT
import Foundation
import NIOCore

/// `chorus bench churn`: C loops, each connecting, (authenticating,) subscribing, waiting for the
/// subscription to be confirmed and disconnecting, over and over; reports how many such cycles
/// complete per second, their latency and the errors.
enum ChurnMode {
    static let usage = """
        Usage: chorus bench churn [options]
          --url URL               subscriber URL (alias --subscribe-url); {topic} is replaced.
                                  Default ws://127.0.0.1:8080/ws (chorus), ws://127.0.0.1:8081/sub/{topic} (nchan)
          --concurrency 64        loops running at once
          --topics 100            loop cycles go round robin over this many topics
          --token-secret SECRET   every connection presents a token of its own, HS256-signed with
                                  SECRET (sub bench-N, exp an hour ahead), so the server verifies
                                  each afresh; not with --token, whose one token it verifies once
        \(CommonOptions.usage)
        """

    static func run(_ arguments: inout BenchArguments) async throws -> BenchResult {
        let common = try CommonOptions(&arguments, defaultDuration: 10)
        let endpoints = try common.subscriberEndpoints(arguments.string("--url", "--subscribe-url", default: common.defaultSubscribeURL)!, subscribes: true)
        guard let endpoint = endpoints.first, endpoints.count == 1 else { throw BenchError("--url: churn measures one server: give one URL") }
        let concurrency = try arguments.integer("--concurrency", default: 64, in: 1...100_000)
        let topics = try arguments.integer("--topics", default: 100)
        let tokenSigner = arguments.string("--token-secret").map(HS256TokenSigner.init(secret:))
        try arguments.finish()
        guard tokenSigner == nil || common.credentials.token == nil else {
            throw BenchError("--token-secret and --token cannot be used together: the first mints a token per connection, the second presents one")
        }
        let tokensExpireAt = Int64(Date().timeIntervalSince1970) + 3600

        let loops = LoopTallies(threads: common.threads)
        let connector = try common.connector(for: endpoint)
        let window = CPUWindow(server: common.server)
        let deadline = NIODeadline.now() + .nanoseconds(Int64(common.duration * 1e9))
        let prefix = common.topicPrefix
        ProgressLog.line("churn", "\(concurrency) loops of connect + subscribe + disconnect against \(endpoint.host):\(endpoint.port)\(endpoint.target)")
        let progress = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(1))
                let sofar = try await loops.snapshot()
                ProgressLog.line("churn", "\(window.seconds.fixed(0)) s: \(sofar.deliveries.grouped) cycles, \(sofar.errors.total) errors")
            }
        }
        let cycles = loops.tallies.count
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for (loopIndex, tally) in loops.tallies.enumerated() {
                tasks.addTask {
                    try await tally.eventLoop.flatSubmit {
                        var cycle = loopIndex
                        return OperationPump(
                            loop: tally.eventLoop, width: max(1, concurrency / cycles),
                            next: {
                                guard NIODeadline.now() < deadline else { return nil }
                                defer { cycle += cycles }
                                return cycle
                            },
                            operation: { index in
                                let topicIndex = index % topics
                                let role = SubscriberRole(
                                    topicIndex: topicIndex, topic: FleetSpec.topic(prefix: prefix, index: topicIndex), subscribes: true,
                                    probe: false, lazy: false, closeWhenSubscribed: true
                                )
                                var connector = connector
                                if let tokenSigner {
                                    connector.token = tokenSigner.token(subject: "bench-\(index)", expiresAt: tokensExpireAt)
                                }
                                let started = NIODeadline.now().uptimeNanoseconds
                                return connector.subscribe(on: tally.eventLoop, sourceIndex: index, role: role, tally: tally).map { _ in
                                    tally.value.figures.deliveries += 1
                                    LatencyHistogram.record(&tally.value.figures.latency, sent: started, received: NIODeadline.now().uptimeNanoseconds)
                                }.recover { error in
                                    tally.value.figures.errors.add("\(error)")
                                }
                            }
                        ).run()
                    }.get()
                }
            }
            try await tasks.waitForAll()
        }
        progress.cancel()
        let seconds = window.seconds
        let serverCPU = window.serverSeconds
        let generatorCPU = window.generatorSeconds
        let tally = try await loops.snapshot()
        await loops.shutdown()

        var result = BenchResult(mode: "churn")
        result.addField("server", .string(common.serverProtocol.rawValue))
        result.addField("tokens", .string(tokenSigner != nil ? "one per connection" : common.credentials.token != nil ? "one for all" : "none"))
        result.add("concurrency", integer: concurrency, "concurrent loops")
        result.add("cycles", integer: tally.deliveries, "connect + subscribe + disconnect cycles")
        result.add("seconds", number: seconds, "in", unit: " s")
        result.add("cycles_per_second", integer: Int(Double(tally.deliveries) / seconds), "cycles per second")
        result.add("errors", integer: tally.errors.total, "errors")
        if tally.errors.total > 0 { result.addField("error_messages", .object(tally.errors.counts.map { ($0.key, .integer($0.value)) })) }
        result.addLatency("latency", tally.latency, "connect to subscribed")
        result.addServerCPU(serverCPU, windowSeconds: seconds, work: tally.deliveries, plural: "cycles", singular: "cycle")
        result.addGeneratorCPU(window: generatorCPU, windowSeconds: seconds, total: ResourceUsage.cpuSeconds())
        return result
    }
}
