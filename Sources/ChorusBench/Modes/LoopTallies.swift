import NIOCore
import NIOPosix

/// An event loop group of the generator with a ``LoopTally`` on each loop, for the modes that
/// run in the parent process (echo, churn).
struct LoopTallies: Sendable {
    let group: MultiThreadedEventLoopGroup
    let tallies: [NIOLoopBoundBox<LoopTally>]

    init(threads: Int) {
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        self.tallies = self.group.makeIterator().map {
            NIOLoopBoundBox.makeBoxSendingValue(LoopTally(), as: LoopTally.self, eventLoop: $0)
        }
    }

    /// Runs `body` on every loop's tally and merges the snapshots taken right after it.
    func snapshot(after body: @escaping @Sendable (LoopTally) -> Void = { _ in }) async throws -> TallySnapshot {
        var merged = TallySnapshot()
        for tally in self.tallies {
            merged.merge(try await tally.eventLoop.submit {
                body(tally.value)
                return tally.value.snapshot()
            }.get())
        }
        return merged
    }

    /// Lets the connections work for `duration` seconds, logging the count so far each second,
    /// and returns the figures at the deadline, after which the connections stop sending.
    func measure(for duration: Double, mode: String, window: CPUWindow, counting noun: String) async throws -> TallySnapshot {
        let ends = ContinuousClock.now + .seconds(duration)
        while ContinuousClock.now < ends {
            try await Task.sleep(for: min(.seconds(1), ends - ContinuousClock.now))
            if ContinuousClock.now < ends {
                let sofar = try await self.snapshot()
                ProgressLog.line(mode, "\(window.seconds.fixed(0)) s: \(sofar.deliveries.grouped) \(noun)")
            }
        }
        return try await self.snapshot { $0.sending = false }
    }

    func shutdown() async {
        try? await self.group.shutdownGracefully()
    }
}
