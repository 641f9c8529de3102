import NIOCore

/// `chorus bench connections`: open N idle subscribers, hold them, and report the connect rate
/// and what each connection costs the server in memory (VmRSS growth / N) and CPU while idle.
enum ConnectionsMode {
    static let usage = """
        Usage: chorus bench connections [options]
          Opens N WebSocket (ws://) or event-stream (http://) connections, spread over source
          addresses and, past --per-process sockets, over worker processes; holds them idle.
          --url URL               subscriber URL (alias --subscribe-url); {topic} is replaced.
                                  Default ws://127.0.0.1:8080/ws (chorus), ws://127.0.0.1:8081/sub/{topic} (nchan).
                                  A comma-separated list spreads them over a cluster's nodes
          --connections 1000      how many
          --topics N              distinct topics (default: one per connection, the worst case)
          --no-subscribe          Chorus only: connect without subscribing
          --per-process N         sockets per worker process (default: open-file limit - 1000)
          --settle 2s             wait after the last connect before reading the server's memory
        \(CommonOptions.usage)
        """

    static func run(_ arguments: inout BenchArguments, workerArguments: [String]) async throws -> BenchResult {
        let common = try CommonOptions(&arguments, defaultDuration: 10)
        let count = try arguments.integer("--connections", default: 1000)
        let topics = try arguments.integer("--topics", default: count)
        let subscribes = !arguments.flag("--no-subscribe")
        let endpoints = try common.subscriberEndpoints(arguments.string("--url", "--subscribe-url", default: common.defaultSubscribeURL)!, subscribes: subscribes)
        let perProcess = try arguments.integer("--per-process", default: max(100, ResourceUsage.openFileLimit() - 1000))
        let settle = try arguments.seconds("--settle", default: 2)
        try arguments.finish()
        if !subscribes && common.serverProtocol == .nchan { throw BenchError("--no-subscribe: an Nchan connection always subscribes") }

        let spec = common.fleet(endpoints: endpoints, count: count, topics: topics, probes: 0, subscribes: subscribes, drainInterval: 0)
        let residentBefore = common.server?.residentKiB()
        let (pool, ready) = try await WorkerPool.open(spec, perProcess: perProcess, workerArguments: workerArguments, mode: "connections")
        defer { pool.terminate() }
        try await Task.sleep(for: .seconds(settle))
        let residentAfter = common.server?.residentKiB()

        let window = CPUWindow(server: common.server)
        pool.start()
        let deadline = ContinuousClock.now + .seconds(common.duration)
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: min(.seconds(5), deadline - ContinuousClock.now))
            ProgressLog.line("connections", "holding \(ready.connected.grouped) connections, \(window.seconds.fixed(0)) s, closed by the server: \(pool.closedByServer)")
        }
        let serverCPU = window.serverSeconds
        let held = window.seconds
        let final = try await pool.stop()

        var result = BenchResult(mode: "connections")
        result.addField("server", .string(common.serverProtocol.rawValue))
        result.addField("url", .string(endpoints.map(\.description).joined(separator: ",")))
        result.add("connections", integer: count, "connections asked for")
        result.add("connected", integer: ready.connected, "connected")
        result.add("failed", integer: ready.failed, "failed")
        if ready.errors.total > 0 { result.addField("errors", .object(ready.errors.counts.map { ($0.key, .integer($0.value)) })) }
        result.add("worker_processes", integer: pool.workers.count, "worker processes")
        result.add("connect_seconds", number: ready.seconds, "time to open them", unit: " s")
        result.add("connects_per_second", integer: Int(Double(ready.connected) / max(ready.seconds, 1e-9)), "connects per second")
        if let residentBefore, let residentAfter {
            result.add("server_rss_before_kib", integer: residentBefore, "server RSS before", unit: " KiB")
            result.add("server_rss_after_kib", integer: residentAfter, "server RSS after", unit: " KiB")
            result.add("server_bytes_per_connection", integer: (residentAfter - residentBefore) * 1024 / max(1, ready.connected), "server memory per connection", unit: " B")
        }
        result.add("held_seconds", number: held, "held for", digits: 1, unit: " s")
        result.add("closed_by_server", integer: final.tally.closedByServer, "closed by the server while held")
        result.addServerCPU(serverCPU, windowSeconds: held)
        result.addGeneratorCPU(window: final.windowCPUSeconds + window.generatorSeconds, windowSeconds: held, total: final.totalCPUSeconds + ResourceUsage.cpuSeconds())
        return result
    }
}
