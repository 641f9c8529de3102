import NIOCore
import NIOPosix

/// Holds one process's share of subscribers: opens them at a bounded pace, keeps them reading
/// (the counting ones only every drain interval), and merges what every loop counted.
final class SubscriberFleet: Sendable {
    let spec: FleetSpec
    private let group: MultiThreadedEventLoopGroup
    private let tallies: [NIOLoopBoundBox<LoopTally>]
    /// The loop of the probes, when they have one of their own.
    private let probeTally: NIOLoopBoundBox<LoopTally>?
    private let drainTasks: [RepeatedTask]

    /// Probes get a loop of their own when the others drain in bursts: a burst of thousands of
    /// reads on the probes' loop would otherwise be counted as the server's latency.
    init(spec: FleetSpec) {
        self.spec = spec
        let probesApart = spec.drainIntervalMilliseconds > 0 && spec.firstIndex < spec.probes
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, spec.threads) + (probesApart ? 1 : 0))
        var loops = Array(self.group.makeIterator()).map { NIOLoopBoundBox.makeBoxSendingValue(LoopTally(), as: LoopTally.self, eventLoop: $0) }
        self.probeTally = probesApart ? loops.removeLast() : nil
        self.tallies = loops
        let interval = TimeAmount.milliseconds(Int64(max(1, spec.drainIntervalMilliseconds)))
        self.drainTasks = spec.drainIntervalMilliseconds > 0 ? self.tallies.map { tally in
            tally.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                for channel in tally.value.lazyChannels { channel.read() }
            }
        } : []
    }

    /// Opens every subscriber; returns how many are subscribed, how many failed, and why.
    func open() async throws -> WorkerLine.Ready {
        let started = NIODeadline.now()
        let connectors = try self.spec.endpoints.map { endpoint in
            try Connector(
                endpoint: endpoint, serverProtocol: self.spec.serverProtocol, token: self.spec.token,
                sources: self.spec.sources, connectTimeout: .milliseconds(Int64(self.spec.connectTimeoutMilliseconds)),
                openTimeout: .milliseconds(Int64(self.spec.connectTimeoutMilliseconds))
            )
        }
        let spec = self.spec
        let opened = try await ConnectionOpener.openAll(self.shares(), concurrency: spec.connectConcurrency) { local, tally in
            let index = spec.firstIndex + local
            return connectors[spec.endpointIndex(of: index)].subscribe(on: tally.eventLoop, sourceIndex: index, role: spec.role(of: index), tally: tally).map { _ in }
        }
        let seconds = Double((NIODeadline.now() - started).nanoseconds) / 1e9
        return WorkerLine.Ready(connected: opened.connected, failed: spec.count - opened.connected, seconds: seconds, errors: opened.errors)
    }

    /// Local indices by loop: probes on their own loop if they have one, the rest round robin.
    private func shares() -> [ConnectionOpener.Share] {
        guard let probeTally = self.probeTally else {
            return ConnectionOpener.roundRobin(0..<self.spec.count, over: self.tallies)
        }
        let probes = min(self.spec.count, self.spec.probes - self.spec.firstIndex)
        return [ConnectionOpener.Share(tally: probeTally, indices: Array(0..<probes))]
            + ConnectionOpener.roundRobin(probes..<self.spec.count, over: self.tallies)
    }

    func progress() async throws -> WorkerLine.Progress {
        let snapshot = try await self.snapshot()
        return WorkerLine.Progress(deliveries: snapshot.deliveries, closedByServer: snapshot.closedByServer, stamped: snapshot.probeReceived.values.reduce(0, +))
    }

    func snapshot() async throws -> TallySnapshot {
        var merged = TallySnapshot()
        for tally in self.tallies + (self.probeTally.map { [$0] } ?? []) {
            merged.merge(try await tally.eventLoop.submit { tally.value.snapshot() }.get())
        }
        return merged
    }

    func shutdown() async {
        for task in self.drainTasks { task.cancel() }
        try? await self.group.shutdownGracefully()
    }
}
