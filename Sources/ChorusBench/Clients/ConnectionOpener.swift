import NIOCore

/// Opens many connections at a bounded pace: connection `i` goes to loop `i % loops`, and each
/// loop keeps its share of `concurrency` attempts in flight.
enum ConnectionOpener {
    static func openAll(
        count: Int, tallies: [NIOLoopBoundBox<LoopTally>], concurrency: Int,
        open: @escaping @Sendable (Int, NIOLoopBoundBox<LoopTally>) -> EventLoopFuture<Void>
    ) async throws -> (connected: Int, errors: ErrorCounts) {
        let loops = tallies.count
        return try await withThrowingTaskGroup(of: (Int, ErrorCounts).self) { tasks in
            for (loopIndex, tally) in tallies.enumerated() {
                tasks.addTask {
                    try await tally.eventLoop.flatSubmit {
                        let outcome = NIOLoopBoundBox((connected: 0, errors: ErrorCounts()), eventLoop: tally.eventLoop)
                        var cursor = loopIndex
                        let pump = OperationPump(
                            loop: tally.eventLoop, width: max(1, concurrency / loops),
                            next: {
                                guard cursor < count else { return nil }
                                defer { cursor += loops }
                                return cursor
                            },
                            operation: { index in
                                open(index, tally)
                                    .map { outcome.value.connected += 1 }
                                    .recover { error in outcome.value.errors.add("\(error)") }
                            }
                        )
                        return pump.run().map { (outcome.value.connected, outcome.value.errors) }
                    }.get()
                }
            }
            return try await tasks.reduce(into: (0, ErrorCounts())) { total, share in
                total.0 += share.0
                total.1.merge(share.1)
            }
        }
    }
}
