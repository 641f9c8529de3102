import NIOCore
import NIOPosix

/// Holds one process's share of subscribers: opens them at a bounded pace, keeps them reading
/// (the counting ones only every drain interval), and merges what every loop counted.
final class SubscriberFleet: Sendable {
    let spec: FleetSpec
    private let group: MultiThreadedEventLoopGroup
    private let tallies: [NIOLoopBoundBox<LoopTally>]
    private let drainTasks: [RepeatedTask]

    init(spec: FleetSpec) {
        self.spec = spec
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, spec.threads))
        let loops = Array(self.group.makeIterator())
        self.tallies = loops.map { NIOLoopBoundBox.makeBoxSendingValue(LoopTally(), as: LoopTally.self, eventLoop: $0) }
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
        let connector = try Connector(
            endpoint: self.spec.endpoint, serverProtocol: self.spec.serverProtocol, token: self.spec.token,
            sources: self.spec.sources, connectTimeout: .milliseconds(Int64(self.spec.connectTimeoutMilliseconds)),
            openTimeout: .milliseconds(Int64(self.spec.connectTimeoutMilliseconds))
        )
        let spec = self.spec
        let opened = try await ConnectionOpener.openAll(count: spec.count, tallies: self.tallies, concurrency: spec.connectConcurrency) { local, tally in
            let index = spec.firstIndex + local
            return connector.subscribe(on: tally.eventLoop, sourceIndex: index, role: spec.role(of: index), tally: tally).map { _ in }
        }
        let seconds = Double((NIODeadline.now() - started).nanoseconds) / 1e9
        return WorkerLine.Ready(connected: opened.connected, failed: spec.count - opened.connected, seconds: seconds, errors: opened.errors)
    }

    func progress() async throws -> WorkerLine.Progress {
        let snapshot = try await self.snapshot()
        return WorkerLine.Progress(deliveries: snapshot.deliveries, closedByServer: snapshot.closedByServer)
    }

    func snapshot() async throws -> TallySnapshot {
        var merged = TallySnapshot()
        for tally in self.tallies {
            merged.merge(try await tally.eventLoop.submit { tally.value.snapshot() }.get())
        }
        return merged
    }

    func shutdown() async {
        for task in self.drainTasks { task.cancel() }
        try? await self.group.shutdownGracefully()
    }
}
