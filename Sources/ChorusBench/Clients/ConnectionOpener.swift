import NIOCore

/// Opens many connections at a bounded pace: each loop opens its share of the indices, keeping
/// a part of `concurrency` attempts in flight in proportion to its share's size. All shares so
/// advance at the same pace, and a small share (the probes) is spread over the order in which
/// the server receives the subscriptions instead of coming first: a server that delivers in
/// subscription order would otherwise serve every probe early, and look faster than it is.
enum ConnectionOpener {
    /// The connections one event loop opens, and the tally they count into.
    struct Share: Sendable {
        var tally: NIOLoopBoundBox<LoopTally>
        var indices: [Int]
    }

    /// The indices dealt out over the loops in turn.
    static func roundRobin(_ indices: Range<Int>, over tallies: [NIOLoopBoundBox<LoopTally>]) -> [Share] {
        tallies.enumerated().map { loopIndex, tally in
            Share(tally: tally, indices: Array(stride(from: indices.lowerBound + loopIndex, to: indices.upperBound, by: tallies.count)))
        }
    }

    static func openAll(
        _ shares: [Share], concurrency: Int,
        open: @escaping @Sendable (Int, NIOLoopBoundBox<LoopTally>) -> EventLoopFuture<Void>
    ) async throws -> (connected: Int, errors: ErrorCounts) {
        let total = max(1, shares.reduce(0) { $0 + $1.indices.count })
        return try await withThrowingTaskGroup(of: (Int, ErrorCounts).self) { tasks in
            for share in shares {
                let tally = share.tally
                let width = max(1, concurrency * share.indices.count / total)
                tasks.addTask {
                    try await tally.eventLoop.flatSubmit {
                        let outcome = NIOLoopBoundBox((connected: 0, errors: ErrorCounts()), eventLoop: tally.eventLoop)
                        var remaining = share.indices.makeIterator()
                        let pump = OperationPump(
                            loop: tally.eventLoop, width: width,
                            next: { remaining.next() },
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
