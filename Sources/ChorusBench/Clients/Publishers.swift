import NIOCore
import NIOHTTP1
import NIOPosix

/// Runs a plan over several keep-alive connections in parallel.
enum Publishers {
    static func run(plan: PublishPlan, connections: Int, group: any EventLoopGroup) async throws -> PublishOutcome {
        let destinations = try plan.endpoints.map { try SocketAddress.makeAddressResolvingHost($0.host, port: $0.port) }
        let tlsContext = plan.endpoints.contains(where: \.tls) ? try BenchTLS.context() : nil
        var futures: [EventLoopFuture<PublishOutcome>] = []
        for source in 0..<connections {
            let loop = group.next()
            // Paced publishers take turns, evenly spaced, rather than all publishing at the
            // same instant: 4 publishers at 10 messages/s must be a message every 100 ms, not
            // a burst of 4 every 400 ms (which would measure queueing behind the burst).
            let phase = plan.intervalNanoseconds * UInt64(source) / UInt64(connections)
            let done = loop.makePromise(of: PublishOutcome.self)
            let endpoint = plan.endpoints[source % plan.endpoints.count]
            ClientBootstrap(group: loop)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try BenchTLS.addHandler(to: channel, endpoint: endpoint, context: tlsContext)
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(PublisherHandler(plan: plan, source: source, phaseNanoseconds: phase, done: done))
                    }
                }
                .connect(to: destinations[source % destinations.count])
                .whenFailure { error in
                    var outcome = PublishOutcome(topics: plan.topics)
                    outcome.errors.add("publisher could not connect: \(error)")
                    done.succeed(outcome)
                }
            futures.append(done.futureResult)
        }
        var total = PublishOutcome(topics: plan.topics)
        for future in futures { total.merge(try await future.get()) }
        return total
    }
}
