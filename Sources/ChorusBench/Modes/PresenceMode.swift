import NIOCore

/// `chorus bench presence`: a room of N members joining over worker processes (after M already
/// present, when asked: a burst into a full room), timed by probe members that joined before them (each member's `meta` carries the stamp of its join, so a probe
/// reads join → seen in every `presence_diff`); the join rate, the presence frames and bytes a
/// member receives, the hub's memory; then the `signal` round trip A → B → A of a few pairs.
enum PresenceMode {
    static let usage = """
        Usage: chorus bench presence [options]
          Needs a hub whose room namespace has "presence": true, e.g.
          chorus serve --namespaces '{"bench": {"presence": true}}' (and the per-address limits lifted).
          --url URL               ws://127.0.0.1:8080/ws; a comma-separated list spreads the members over a cluster's nodes
          --members 10000         members joining the room (PREFIX0), spread over worker processes and source addresses
          --present 0             members already in the room before the probes join (not timed): with
                                  --present 9000 --members 1000, a burst of 1,000 into a room of 9,000
          --probes 10             members that join before the timed ones (meta {}) and time each of their joins
          --state-limit N         every member joins with "limit": N, so its presence_state lists the N
                                  oldest members (and the counts), not the whole room (default: the whole list)
          --per-process N         sockets per worker process (default: open-file limit - 1000)
          --drain-interval 100ms  how often members that are not probes read their sockets (0: at once)
          --settle 30s            the longest wait, after the last join, for the probes to see every join
          --signal-pairs 4        signalling pairs, each in a presence topic of its own (PREFIXsignal-N); 0: none
          --duration 5s           how long the signalling pairs run
          Topics: --topic-prefix, default bench:room- (namespace bench).
        \(CommonOptions.usage)
        """

    static func run(_ arguments: inout BenchArguments, workerArguments: [String]) async throws -> BenchResult {
        let common = try CommonOptions(&arguments, defaultDuration: 5, defaultTopicPrefix: "bench:room-")
        let endpoints = try common.subscriberEndpoints(arguments.string("--url", default: "ws://127.0.0.1:8080/ws")!, subscribes: true)
        let members = try arguments.integer("--members", default: 10_000)
        let present = try arguments.integer("--present", default: 0, in: 0...1_000_000)
        let probes = try arguments.integer("--probes", default: 10, in: 1...1000)
        let stateLimit = arguments.string("--state-limit") == nil ? nil : try arguments.integer("--state-limit", default: 0, in: 0...1000)
        let perProcess = try arguments.integer("--per-process", default: max(100, ResourceUsage.openFileLimit() - 1000))
        let drainInterval = try arguments.seconds("--drain-interval", default: 0.1)
        let settle = try arguments.seconds("--settle", default: 30)
        let pairs = try arguments.integer("--signal-pairs", default: 4, in: 0...1000)
        try arguments.finish()
        try common.requireChorusWebSockets(endpoints, mode: "presence")

        // Indices: probes 0..<probes, then those present before them, then the timed members, whose
        // joins all come after every probe's.
        var spec = common.fleet(endpoints: endpoints, count: probes, topics: 1, probes: probes, subscribes: true, drainInterval: drainInterval, subscription: .presence)
        spec.presenceStateLimit = stateLimit
        let residentBefore = common.server?.residentKiB()
        var presentPool: WorkerPool?
        if present > 0 {
            let (pool, _) = try await WorkerPool.open(spec.share(from: probes, count: present), perProcess: perProcess, workerArguments: workerArguments, mode: "presence")
            presentPool = pool
        }
        defer { presentPool?.terminate() }
        let (probePool, probesReady) = try await WorkerPool.open(spec.share(from: 0, count: probes), perProcess: perProcess, workerArguments: workerArguments, mode: "presence")
        defer { probePool.terminate() }
        probePool.start()
        presentPool?.start()
        let window = CPUWindow(server: common.server)
        let joinsStart = NIODeadline.now().uptimeNanoseconds
        let (memberPool, ready) = try await WorkerPool.open(spec.share(from: probes + present, count: members), perProcess: perProcess, workerArguments: workerArguments, mode: "presence")
        defer { memberPool.terminate() }
        memberPool.start()
        let expected = probesReady.connected * ready.connected
        try await Self.awaitProbes(probePool, seeing: expected, within: settle)
        let serverCPU = window.serverSeconds
        let windowSeconds = window.seconds
        let generatorCPU = window.generatorSeconds
        let residentAfter = common.server?.residentKiB()

        let signalling = pairs > 0 ? try await SignalPairs.run(common: common, endpoint: endpoints[0], pairs: pairs) : nil
        let probeFinal = try await probePool.stop()
        let memberFinal = try await memberPool.stop()
        let presentFinal = try await presentPool?.stop()
        let probe = probeFinal.tally
        let seen = probe.probeReceived.values.reduce(0, +)
        let completeSeconds = probe.lastDeliveryNanoseconds > joinsStart ? Double(probe.lastDeliveryNanoseconds - joinsStart) / 1e9 : 0

        var result = BenchResult(mode: "presence")
        result.addField("topic", .string(FleetSpec.topic(prefix: common.topicPrefix, index: 0)))
        result.add("members", integer: ready.connected, "members joined (timed)")
        result.add("present", integer: present, "members present before the probes")
        if let stateLimit { result.add("state_limit", integer: stateLimit, "members in each join's presence_state (its limit)") }
        result.add("join_failures", integer: ready.failed + probesReady.failed, "joins failed")
        if ready.errors.total > 0 { result.addField("errors", .object(ready.errors.counts.map { ($0.key, .integer($0.value)) })) }
        result.add("probes", integer: probesReady.connected, "probes (members that time every later join)")
        result.add("worker_processes", integer: probePool.workers.count + memberPool.workers.count + (presentPool?.workers.count ?? 0), "worker processes")
        result.add("join_seconds", number: ready.seconds, "time for the members to join", unit: " s")
        result.add("joins_per_second", integer: Int(Double(ready.connected) / max(ready.seconds, 1e-9)), "joins per second")
        result.add("joins_seen", integer: seen, "joins seen by the probes")
        result.add("joins_expected", integer: expected, "joins the probes should see (probes × members)")
        result.add("joins_unseen", integer: max(0, expected - seen), "joins the probes did not see")
        result.add("list_complete_seconds", number: completeSeconds, "first join to the probes' last diff", unit: " s")
        result.addLatency("join_seen_latency", probe.latency, "join → seen by a probe")
        let perProbe = Double(max(1, probesReady.connected))
        result.add("frames_per_probe", number: Double(probe.deliveries) / perProbe, "presence frames per probe", digits: 1)
        result.add("frames_per_probe_per_second", number: completeSeconds > 0 ? Double(probe.deliveries) / perProbe / completeSeconds : 0, "presence frames per probe per second", digits: 1)
        result.add("bytes_per_probe", integer: Int(Double(probe.bytes) / perProbe), "presence bytes per probe", unit: " B")
        result.add("closed_by_server", integer: probe.closedByServer + memberFinal.tally.closedByServer + (presentFinal?.tally.closedByServer ?? 0), "closed by the server")
        if let residentBefore, let residentAfter {
            result.add("server_rss_before_kib", integer: residentBefore, "server RSS before", unit: " KiB")
            result.add("server_rss_after_kib", integer: residentAfter, "server RSS with the room", unit: " KiB")
            let room = max(1, ready.connected + probesReady.connected + present)
            result.add("room_size", integer: room, "members in the room")
            result.add("server_bytes_per_member", integer: (residentAfter - residentBefore) * 1024 / room, "server memory per member (connection included)", unit: " B")
        }
        result.addServerCPU(serverCPU, windowSeconds: windowSeconds, work: ready.connected, plural: "joins", singular: "join")
        if let signalling {
            result.add("signal_pairs", integer: pairs, "signalling pairs")
            result.add("signal_round_trips", integer: signalling.deliveries, "signal round trips (A → B → A)")
            result.add("signal_errors", integer: signalling.errors.total + signalling.closedByServer, "signalling errors")
            if signalling.errors.total > 0 { result.addField("signal_error_messages", .object(signalling.errors.counts.map { ($0.key, .integer($0.value)) })) }
            result.addLatency("signal_latency", signalling.latency, "signal round trip")
        }
        result.addGeneratorCPU(
            window: generatorCPU + probeFinal.windowCPUSeconds + memberFinal.windowCPUSeconds + (presentFinal?.windowCPUSeconds ?? 0), windowSeconds: windowSeconds,
            total: ResourceUsage.cpuSeconds() + probeFinal.totalCPUSeconds + memberFinal.totalCPUSeconds + (presentFinal?.totalCPUSeconds ?? 0)
        )
        return result
    }

    /// Waits until the probes have read `expected` stamps, or their count stopped moving for 3 s
    /// (workers report once a second), or `settle` seconds have passed.
    private static func awaitProbes(_ probes: WorkerPool, seeing expected: Int, within settle: Double) async throws {
        let deadline = ContinuousClock.now + .seconds(settle)
        var last = (count: -1, since: ContinuousClock.now)
        while ContinuousClock.now < deadline && probes.stamped < expected {
            if probes.stamped != last.count { last = (probes.stamped, ContinuousClock.now) }
            if ContinuousClock.now - last.since > .seconds(3) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        ProgressLog.line("presence", "the probes saw \(probes.stamped.grouped) of \(expected.grouped) joins")
    }
}

/// Signalling pairs: a caller and an answerer per pair, each pair in a presence topic of its own;
/// the callers keep one `signal` in flight for the run's duration (``SignalPeer``).
enum SignalPairs {
    static func run(common: CommonOptions, endpoint: EndpointTemplate, pairs: Int) async throws -> TallySnapshot {
        let loops = LoopTallies(threads: common.threads)
        let connector = try common.connector(for: endpoint)
        var callers: [EventLoopFuture<any Channel>] = []
        var everyone: [EventLoopFuture<any Channel>] = []
        for pair in 0..<pairs {
            let topic = FleetSpec.topic(prefix: common.topicPrefix, index: 0) + "-signal-\(pair)"
            for side in [SignalPeer.Side.caller, .answerer] {
                let tally = loops.tallies[(pair * 2 + (side == .caller ? 0 : 1)) % loops.tallies.count]
                let ready = tally.eventLoop.makePromise(of: Void.self)
                let opened = connector.connect(on: tally.eventLoop, sourceIndex: pair * 2) {
                    FrameClientHandler(endpoint: endpoint, token: connector.token, client: SignalPeer(topic: topic, side: side, tally: tally.value, ready: ready))
                }.flatMap { channel in
                    ready.futureResult.map { channel }
                }.flatMapError { error in
                    ready.fail(error)
                    return tally.eventLoop.makeFailedFuture(error)
                }
                everyone.append(opened)
                if side == .caller { callers.append(opened) }
            }
        }
        var channels: [any Channel] = []
        do {
            for opened in everyone { channels.append(try await opened.get()) }
        } catch {
            for channel in channels { channel.close(promise: nil) }
            await loops.shutdown()
            throw BenchError("a signalling pair could not join: \(error)")
        }
        ProgressLog.line("presence", "\(pairs) signalling pairs joined; signalling for \(common.duration.fixed(1)) s")
        for caller in callers { try await caller.get().pipeline.fireUserInboundEventTriggered(FrameClientStart()) }
        let window = CPUWindow(server: nil)
        let tally = try await loops.measure(for: common.duration, mode: "presence", window: window, counting: "signal round trips")
        for channel in channels { channel.close(promise: nil) }
        await loops.shutdown()
        return tally
    }
}
