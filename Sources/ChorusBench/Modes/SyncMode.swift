import Foundation
import NIOCore

/// `chorus bench sync`: W writers keep one `sync_mutate` each in flight on one collection (each
/// inserts a record of its own, then updates it with stamped data) while S subscribers of the
/// collection, over worker processes, receive every change, probes timing mutation → change;
/// then a collection of K records is loaded and its snapshot read and timed.
enum SyncMode {
    static let usage = """
        Usage: chorus bench sync [options]
          Needs a hub whose collections' namespace has "sync": true, e.g.
          chorus serve --namespaces '{"bench": {"sync": true}}' (and the per-address and rate limits lifted).
          --url URL               ws://127.0.0.1:8080/ws
          --writers 16            writer connections, each with one sync_mutate awaiting its ack
          --subscribers 1000      sync subscribers of the collection PREFIX0, over worker processes
          --probes 100            subscribers that parse every change (latency, loss, order)
          --per-process N         sockets per worker process (default: open-file limit - 1000)
          --drain-interval 100ms  how often subscribers that are not probes read their sockets (0: at once)
          --drain-timeout 10s     longest wait for the last changes after the writers stop
          --records 10000         records of the snapshot's collection (PREFIXsnapshot-RUN, loaded by the
                                  writers after the run); 0: no snapshot
          --snapshot-reads 5      times that snapshot is read, one after the other
          --duration 10s          how long the writers write
          Collections: --topic-prefix, default bench:tasks- (namespace bench).
          --payload-size is the size of each record's data.
        \(CommonOptions.usage)
        """

    static func run(_ arguments: inout BenchArguments, workerArguments: [String]) async throws -> BenchResult {
        let common = try CommonOptions(&arguments, defaultDuration: 10, defaultTopicPrefix: "bench:tasks-")
        let endpoint = try EndpointTemplate(arguments.string("--url", default: "ws://127.0.0.1:8080/ws")!)
        let writers = try arguments.integer("--writers", default: 16, in: 1...10_000)
        let subscribers = try arguments.integer("--subscribers", default: 1000, in: 0...1_000_000)
        let probes = try arguments.integer("--probes", default: 100, in: 0...100_000)
        let perProcess = try arguments.integer("--per-process", default: max(100, ResourceUsage.openFileLimit() - 1000))
        let drainInterval = try arguments.seconds("--drain-interval", default: 0.1)
        let drainTimeout = try arguments.seconds("--drain-timeout", default: 10)
        let records = try arguments.integer("--records", default: 10_000, in: 0...10_000_000)
        let reads = try arguments.integer("--snapshot-reads", default: 5, in: 1...1000)
        try arguments.finish()
        try common.requireChorusWebSockets([endpoint], mode: "sync")
        let run = String(Int(Date().timeIntervalSince1970 * 1000), radix: 36)
        let collection = FleetSpec.topic(prefix: common.topicPrefix, index: 0)
        let connector = try common.connector(for: endpoint)

        // Subscribers first, so that each sees every change of the run.
        var pool: WorkerPool?
        var ready = WorkerLine.Ready(connected: 0, failed: 0, seconds: 0, errors: ErrorCounts())
        if subscribers > 0 {
            let spec = common.fleet(
                endpoints: [endpoint], count: subscribers, topics: 1, probes: min(probes, subscribers), subscribes: true,
                drainInterval: drainInterval, subscription: .sync
            )
            (pool, ready) = try await WorkerPool.open(spec, perProcess: perProcess, workerArguments: workerArguments, mode: "sync")
        }
        defer { pool?.terminate() }

        let loops = LoopTallies(threads: common.threads)
        let payloadSize = common.payloadSize
        ProgressLog.line("sync", "opening \(writers) writers of \(collection)")
        let channels = try await FrameWriter.open(writers, loops: loops, connector: connector) { source, tally, ready in
            FrameWriter(
                loop: DurablePublishLoop(source: source, types: 1, payloadSize: payloadSize, tally: tally, idPrefix: run),
                work: .stamped(collection: collection, recordID: "w\(source)-\(run)"), ready: ready
            )
        }
        pool?.start()
        let window = CPUWindow(server: common.server)
        for channel in channels { channel.pipeline.fireUserInboundEventTriggered(FrameClientStart()) }
        let written = try await loops.measure(for: common.duration, mode: "sync", window: window, counting: "acknowledged mutations")
        let seconds = window.seconds
        let serverCPU = window.serverSeconds
        let generatorCPU = window.generatorSeconds
        // The mutations in flight at the deadline are answered and delivered too: wait for them.
        let settled = try await Self.awaitChanges(pool, loops: loops, subscribers: ready.connected, within: drainTimeout)
        for channel in channels { channel.close(promise: nil) }
        await loops.shutdown()
        let final = try await pool?.stop()
        let delivered = final?.tally ?? TallySnapshot()
        let probeCount = min(probes, ready.connected)

        var result = BenchResult(mode: "sync")
        result.addField("collection", .string(collection))
        result.add("writers", integer: writers, "writers (one mutation in flight each)")
        result.add("subscribers", integer: ready.connected, "subscribers")
        result.add("subscribe_failures", integer: ready.failed, "subscribe failures")
        result.add("probes", integer: probeCount, "probes (parse every change)")
        result.add("acknowledged", integer: written.deliveries, "mutations acknowledged")
        result.add("acknowledged_per_second", integer: Int(Double(written.deliveries) / seconds), "acknowledged mutations per second")
        result.add("acknowledged_total", integer: settled.deliveries, "mutations acknowledged (with those in flight at the deadline)")
        result.add("mutation_errors", integer: settled.errors.total, "mutations refused")
        if settled.errors.total > 0 { result.addField("error_messages", .object(settled.errors.counts.map { ($0.key, .integer($0.value)) })) }
        result.addLatency("ack_latency", written.latency, "mutation → acknowledgement")
        result.add("changes_delivered", integer: delivered.deliveries, "changes delivered (all subscribers)")
        result.add("changes_expected", integer: settled.deliveries * ready.connected, "changes expected (acknowledged × subscribers)")
        result.add("lost", integer: max(0, settled.deliveries * ready.connected - delivered.deliveries), "lost (all subscribers)")
        result.add("probe_lost", integer: max(0, settled.deliveries * probeCount - delivered.probeReceived.values.reduce(0, +)), "lost (probes)")
        result.add("reordered", integer: delivered.reordered, "reordered (probes)")
        result.add("closed_by_server", integer: delivered.closedByServer + settled.closedByServer, "closed by the server")
        result.addLatency("change_latency", delivered.latency, "mutation → change at another client (probes)")
        result.addServerCPU(serverCPU, windowSeconds: seconds, work: written.deliveries, plural: "mutations", singular: "mutation")
        result.addGeneratorCPU(
            window: generatorCPU + (final?.windowCPUSeconds ?? 0), windowSeconds: seconds,
            total: ResourceUsage.cpuSeconds() + (final?.totalCPUSeconds ?? 0)
        )
        if records > 0 {
            try await Self.measureSnapshot(
                of: records, reads: reads, collection: common.topicPrefix + "snapshot-\(run)",
                writers: writers, run: run, common: common, connector: connector, into: &result
            )
        }
        return result
    }

    /// Waits until the subscribers have every change of the acknowledged mutations (the writers'
    /// count, read again: the mutations in flight at the deadline are answered after it), or
    /// their count stopped moving for 3 s, or `timeout`; returns the writers' final figures.
    private static func awaitChanges(_ pool: WorkerPool?, loops: LoopTallies, subscribers: Int, within timeout: Double) async throws -> TallySnapshot {
        let deadline = ContinuousClock.now + .seconds(timeout)
        var last = (count: -1, since: ContinuousClock.now)
        var written = try await loops.snapshot()
        while let pool, ContinuousClock.now < deadline, pool.deliveries < written.deliveries * subscribers {
            if pool.deliveries != last.count { last = (pool.deliveries, ContinuousClock.now) }
            if ContinuousClock.now - last.since > .seconds(3) { break }
            try await Task.sleep(for: .milliseconds(100))
            written = try await loops.snapshot()
        }
        return written
    }

    /// Loads `count` records into a new collection with the writers' connections, then reads its
    /// snapshot `reads` times, one after the other.
    private static func measureSnapshot(
        of count: Int, reads: Int, collection: String, writers: Int, run: String, common: CommonOptions, connector: Connector,
        into result: inout BenchResult
    ) async throws {
        let loops = LoopTallies(threads: common.threads)
        let payloadSize = common.payloadSize
        let shares = (0..<writers).map { writer in Array(stride(from: writer, to: count, by: writers)).map { "r\($0)" } }
        ProgressLog.line("sync", "loading \(count.grouped) records into \(collection)")
        let started = NIODeadline.now()
        let loop = loops.tallies[0].eventLoop
        let done = shares.map { _ in loop.makePromise(of: Void.self) }
        let channels = try await FrameWriter.open(writers, loops: loops, connector: connector) { source, tally, ready in
            FrameWriter(
                loop: DurablePublishLoop(source: source, types: 1, payloadSize: payloadSize, tally: tally, idPrefix: "load-" + run),
                work: .load(collection: collection, recordIDs: shares[source]), ready: ready, loaded: done[source]
            )
        }
        for channel in channels { channel.pipeline.fireUserInboundEventTriggered(FrameClientStart()) }
        try await EventLoopFuture.andAllSucceed(done.map(\.futureResult), on: loop).get()
        let loadSeconds = Double((NIODeadline.now() - started).nanoseconds) / 1e9
        let load = try await loops.snapshot()
        for channel in channels { channel.close(promise: nil) }

        var readings: [SnapshotReader.Reading] = []
        let endpoint = connector.endpoint
        for read in 0..<reads {
            let reading = loop.makePromise(of: SnapshotReader.Reading.self)
            let channel = try await connector.connect(on: loop, sourceIndex: read) {
                FrameClientHandler(endpoint: endpoint, token: connector.token, client: SnapshotReader(collection: collection, done: reading))
            }.get()
            do {
                readings.append(try await reading.futureResult.get())
            } catch {
                channel.close(promise: nil)
                throw error
            }
        }
        await loops.shutdown()
        let times = readings.map(\.seconds).sorted()
        result.addField("snapshot_collection", .string(collection))
        result.add("snapshot_loaded", integer: load.deliveries, "records loaded for the snapshot")
        result.add("snapshot_load_errors", integer: load.errors.total, "loading errors")
        result.add("snapshot_load_per_second", integer: Int(Double(load.deliveries) / max(loadSeconds, 1e-9)), "records loaded per second")
        result.add("snapshot_records", integer: readings[0].records, "records in the snapshot")
        result.add("snapshot_bytes", integer: readings[0].bytes, "snapshot frame", unit: " B")
        result.add("snapshot_reads", integer: readings.count, "snapshot reads")
        result.add("snapshot_ms_p50", number: times[times.count / 2] * 1000, "sync_subscribe → whole snapshot read (median)", unit: " ms")
        result.add("snapshot_ms_min", number: times[0] * 1000, "sync_subscribe → whole snapshot read (best)", unit: " ms")
    }
}
