import NIOCore
import NIOPosix

/// `chorus bench fanout`: N subscribers over T topics; publishers POST stamped messages over
/// keep-alive HTTP, at a rate or flat out. Reports deliveries per second, latency (from the
/// probes), lost and reordered messages, and the server's CPU per delivery.
///
/// Every subscriber counts its deliveries (hopping from frame header to frame header); only the
/// first K (`--probe`) parse them for latency, loss and order. The others read their sockets
/// only every `--drain-interval` (1 s), so each read takes many messages at once: the server does
/// the same work per delivery (a loopback socket buffers a second of them easily), while the
/// generator's CPU stays well below the server's. Read at once, each delivery would cost the
/// generator a wakeup and a read, about as much as it costs the server to write it.
enum FanoutMode {
    static let usage = """
        Usage: chorus bench fanout [options]
          --subscribe-url URL     subscriber URL (alias --url); {topic} is replaced.
                                  Default ws://127.0.0.1:8080/ws (chorus), ws://127.0.0.1:8081/sub/{topic} (nchan).
                                  A comma-separated list spreads subscribers over a cluster's nodes
                                  (subscriber i takes URL i % count; take a topic count prime to it).
                                  wss:// and https:// (here and below) speak TLS, without verifying
                                  the certificate
          --publish-url URL       HTTP publish URL. Default http://127.0.0.1:8080/api/publish (chorus),
                                  http://127.0.0.1:8081/pub/{topic} (nchan). A list: publisher
                                  connection j takes URL j % count
          --subscribers 1000      subscriber connections
          --topics 1              subscriber i takes topic i % topics; publishers go round robin
          --probe 100             subscribers that parse every delivery (latency, loss, order)
          --publishers 4          keep-alive publisher connections in parallel
          --rate 0                messages per second in all (0: flat out, each publisher sends
                                  its next message when the last one is answered)
          --payload json          json | binary (an application/octet-stream publish: a binary message;
                                  subscribe with ?binary=1 in the URL for binary frames) | base64 (the
                                  same bytes base64'd into JSON data). Chorus only
          --drain-interval 1s     how often non-probe subscribers read (0: on every wakeup)
          --drain-timeout 10s     longest wait for the last deliveries after publishing stops
          --per-process N         subscriber sockets per worker process (default: open-file limit - 1000)
        \(CommonOptions.usage)
        """

    static func run(_ arguments: inout BenchArguments, workerArguments: [String]) async throws -> BenchResult {
        let common = try CommonOptions(&arguments, defaultDuration: 10)
        let endpoints = try common.subscriberEndpoints(arguments.string("--subscribe-url", "--url", default: common.defaultSubscribeURL)!, subscribes: true)
        let defaultPublishURL = common.serverProtocol == .chorus ? "http://127.0.0.1:8080/api/publish" : "http://127.0.0.1:8081/pub/{topic}"
        let publishEndpoints = try EndpointTemplate.list(arguments.string("--publish-url", default: defaultPublishURL)!)
        let count = try arguments.integer("--subscribers", default: 1000)
        let topics = try arguments.integer("--topics", default: 1, in: 1...count)
        let probes = try arguments.integer("--probe", default: min(100, count), in: 0...count)
        let publishers = try arguments.integer("--publishers", default: 4, in: 1...1000)
        let rate = try arguments.number("--rate", default: 0)
        let drainInterval = try arguments.seconds("--drain-interval", default: 1)
        let drainTimeout = try arguments.seconds("--drain-timeout", default: 10)
        let perProcess = try arguments.integer("--per-process", default: max(100, ResourceUsage.openFileLimit() - 1000))
        let payload = try arguments.choice("--payload", default: PayloadEncoding.json)
        try arguments.finish()
        if common.serverProtocol == .nchan && payload != .json { throw BenchError("--payload: Nchan takes the payload as the raw body; binary and base64 are for Chorus") }
        guard publishEndpoints.allSatisfy({ $0.scheme == .http }) else { throw BenchError("--publish-url: publishing is an HTTP POST (http:// or https://…)") }
        if common.serverProtocol == .nchan && !publishEndpoints.allSatisfy(\.hasTopic) {
            throw BenchError("--publish-url: Nchan publishes to a channel URL with {topic}, e.g. http://127.0.0.1:8081/pub/{topic}")
        }

        let spec = common.fleet(endpoints: endpoints, count: count, topics: topics, probes: probes, subscribes: true, drainInterval: drainInterval)
        let (pool, ready) = try await WorkerPool.open(spec, perProcess: perProcess, workerArguments: workerArguments, mode: "fanout")
        defer { pool.terminate() }

        let group = MultiThreadedEventLoopGroup(numberOfThreads: common.threads)
        defer { group.shutdownGracefully { _ in } }
        pool.start()
        let window = CPUWindow(server: common.server)
        let start = NIODeadline.now().uptimeNanoseconds
        let plan = PublishPlan(
            endpoints: publishEndpoints, serverProtocol: common.serverProtocol, apiKey: common.credentials.apiKey, topics: topics,
            topicPrefix: common.topicPrefix, payloadSize: common.payloadSize, payloadEncoding: payload,
            intervalNanoseconds: rate > 0 ? UInt64(Double(publishers) / rate * 1e9) : 0,
            startNanoseconds: start, deadlineNanoseconds: start + UInt64(common.duration * 1e9)
        )
        let publishing = Task { try await Publishers.run(plan: plan, connections: publishers, group: group) }
        let publishingEnds = ContinuousClock.now + .seconds(common.duration)
        var previous = 0
        while ContinuousClock.now < publishingEnds {
            try await Task.sleep(for: min(.seconds(1), publishingEnds - ContinuousClock.now))
            let deliveries = pool.deliveries
            ProgressLog.line("fanout", "\(window.seconds.fixed(0)) s: \(deliveries.grouped) deliveries counted (+\((deliveries - previous).grouped))")
            previous = deliveries
        }
        let published = try await publishing.value
        let expected = Self.expectedDeliveries(published: published.published, subscribers: ready.connected, topics: topics)
        // Wait for the last deliveries: until all expected have arrived, or the count stops moving.
        let drainDeadline = ContinuousClock.now + .seconds(drainTimeout)
        var last = (count: -1, since: ContinuousClock.now)
        while ContinuousClock.now < drainDeadline && pool.deliveries < expected {
            if pool.deliveries != last.count { last = (pool.deliveries, ContinuousClock.now) }
            if ContinuousClock.now - last.since > .milliseconds(2500) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let serverCPU = window.serverSeconds
        let generatorCPU = window.generatorSeconds
        let final = try await pool.stop()
        let tally = final.tally
        // From the first publish to the last delivery a probe (or any subscriber reading at once) saw.
        let activeSeconds = tally.lastDeliveryNanoseconds > start ? Double(tally.lastDeliveryNanoseconds - start) / 1e9 : common.duration

        var result = BenchResult(mode: "fanout")
        result.addField("server", .string(common.serverProtocol.rawValue))
        result.add("subscribers", integer: ready.connected, "subscribers")
        result.add("subscribe_failures", integer: ready.failed, "subscribe failures")
        result.add("topics", integer: topics, "topics")
        result.add("probes", integer: probes, "probes (parse every delivery)")
        result.add("publishers", integer: publishers, "publisher connections")
        result.add("rate_asked", number: rate, "rate asked", digits: 0, unit: rate > 0 ? " msg/s" : " (flat out)")
        let publishedTotal = published.published.reduce(0, +)
        result.add("published", integer: publishedTotal, "published")
        result.add("publishes_per_second", integer: Int(Double(publishedTotal) / common.duration), "publishes per second")
        result.add("publish_errors", integer: published.errors.total, "publish errors")
        result.add("deliveries", integer: tally.deliveries, "deliveries")
        result.add("expected_deliveries", integer: expected, "deliveries expected")
        result.add("delivery_seconds", number: activeSeconds, "first publish to last delivery", unit: " s")
        result.add("deliveries_per_second", integer: Int(Double(tally.deliveries) / activeSeconds), "deliveries per second")
        result.add("lost", integer: max(0, expected - tally.deliveries), "lost (all subscribers)")
        let probeExpected = Self.expectedDeliveries(published: published.published, subscribers: min(probes, ready.connected), topics: topics)
        let probeReceived = tally.probeReceived.values.reduce(0, +)
        result.add("probe_lost", integer: max(0, probeExpected - probeReceived), "lost (probes)")
        result.add("reordered", integer: tally.reordered, "reordered (probes)")
        result.add("closed_by_server", integer: tally.closedByServer, "closed by the server")
        result.addLatency("latency", tally.latency, "delivery latency (probes)")
        result.addLatency("publish_latency", published.latency, "publish answered in")
        result.addServerCPU(serverCPU, windowSeconds: window.seconds, work: tally.deliveries, plural: "deliveries", singular: "delivery")
        result.addGeneratorCPU(window: generatorCPU + final.windowCPUSeconds, windowSeconds: window.seconds, total: ResourceUsage.cpuSeconds() + final.totalCPUSeconds)
        if tally.errors.total + published.errors.total > 0 {
            var errors = tally.errors
            errors.merge(published.errors)
            result.addField("errors", .object(errors.counts.map { ($0.key, .integer($0.value)) }))
        }
        return result
    }

    /// Σ over topics of messages published to it × subscribers of it (subscriber i takes topic i % topics).
    static func expectedDeliveries(published: [Int], subscribers: Int, topics: Int) -> Int {
        published.enumerated().reduce(0) { total, entry in
            total + entry.element * (subscribers / topics + (entry.offset < subscribers % topics ? 1 : 0))
        }
    }
}
