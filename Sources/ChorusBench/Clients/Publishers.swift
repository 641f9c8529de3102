import NIOCore
import NIOHTTP1
import NIOPosix

/// Runs a plan over several keep-alive connections in parallel.
enum Publishers {
    static func run(plan: PublishPlan, connections: Int, group: any EventLoopGroup) async throws -> PublishOutcome {
        let destination = try SocketAddress.makeAddressResolvingHost(plan.endpoint.host, port: plan.endpoint.port)
        var futures: [EventLoopFuture<PublishOutcome>] = []
        for source in 0..<connections {
            let loop = group.next()
            let done = loop.makePromise(of: PublishOutcome.self)
            ClientBootstrap(group: loop)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(PublisherHandler(plan: plan, source: source, done: done))
                    }
                }
                .connect(to: destination)
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
