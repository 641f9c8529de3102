import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// `chorus bench events`: durable, acknowledged publishes per second, to a hub's event bus
/// (`POST /api/events/publish`, or `event_publish` frames over WebSocket) or to a NATS
/// JetStream stream, by N publishers that each wait for their acknowledgement before the next
/// publish (docs/performance.md, "Event bus").
enum EventsMode {
    static let usage = """
        Usage: chorus bench events [options]
          --url URL               http://127.0.0.1:8080 (a hub: POST /api/events/publish, one keep-alive
                                  connection per publisher), ws://127.0.0.1:8080/ws (a hub: event_publish frames;
                                  needs --token with a user, events_client_types matching bench.**, and the
                                  per-connection publish rate lifted) or nats://127.0.0.1:4222 (NATS JetStream:
                                  the run recreates --stream, file storage)
          --connections 16        publishers, each with one publish awaiting its acknowledgement
          --types 16              event types (JetStream subjects) the publishes cycle through
          --stream CHORUS_BENCH   the JetStream stream (deleted and created anew, subjects bench.>)
          --consumer none         a hub only: also measure a consumer of the run's events, created for the run
                                  (PUT /api/events/consumers/bench-RUN, deleted after): bridge (to a topic this
                                  process subscribes to over WebSocket) or webhook (to an HTTP receiver in this
                                  process answering 200); publish → consumer latency, deliveries per second
          --consumer-concurrency 16   that consumer's deliveries in flight
          --drain-timeout 30s     longest wait, after publishing stops, for the consumer's last deliveries
        \(CommonOptions.usage)
        """

    static func run(_ arguments: inout BenchArguments) async throws -> BenchResult {
        let common = try CommonOptions(&arguments, defaultDuration: 10)
        let url = arguments.string("--url", default: "http://127.0.0.1:8080")!
        let count = try arguments.integer("--connections", default: 16, in: 1...10_000)
        let types = try arguments.integer("--types", default: 16, in: 1...100_000)
        let stream = arguments.string("--stream", default: "CHORUS_BENCH")!
        let consumerKind = try arguments.choice("--consumer", default: EventConsumerProbe.Kind.none)
        let consumerConcurrency = try arguments.integer("--consumer-concurrency", default: 16, in: 1...1000)
        let drainTimeout = try arguments.seconds("--drain-timeout", default: 30)
        try arguments.finish()
        let target = try Target(url)
        if consumerKind != .none && target.kind == .jetStream {
            throw BenchError("--consumer: measures a hub's consumers (--url http://HOST:PORT), not JetStream")
        }
        // Event types and ids of their own per run: a consumer made for the run takes only its
        // events, and the hub does not take them for retries of an earlier run's.
        let run = String(Int(Date().timeIntervalSince1970 * 1000), radix: 36)
        let typePrefix = "bench.\(run)."
        let consumer = consumerKind == .none ? nil : try await EventConsumerProbe.start(
            consumerKind, run: run, typePrefix: typePrefix, host: target.host, port: target.port, common: common, concurrency: consumerConcurrency
        )
        guard stream.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
            throw BenchError("--stream: '\(stream)' is not a JetStream stream name (letters, digits, _ and -)")
        }

        let loops = LoopTallies(threads: common.threads)
        if target.kind == .jetStream {
            try await JetStreamAdmin.recreateStream(stream, subjects: "bench.>", host: target.host, port: target.port, group: loops.group)
        }
        ProgressLog.line("events", "opening \(count.grouped) publishers to \(target.description)")
        var failures = ErrorCounts()
        let opened: [any Channel]
        if case .webSocket(let endpoint) = target.kind {
            let payloadSize = common.payloadSize
            opened = try await FrameWriter.open(count, loops: loops, connector: try common.connector(for: endpoint)) { source, tally, ready in
                FrameWriter(
                    loop: DurablePublishLoop(source: source, types: types, payloadSize: payloadSize, tally: tally, idPrefix: "bench-\(run)"),
                    work: .event(typePrefix: typePrefix), ready: ready)
            }
        } else {
            opened = try await Self.openHTTPOrNATS(count, target: target, loops: loops, common: common, types: types, run: run, typePrefix: typePrefix, failures: &failures)
        }
        guard !opened.isEmpty else {
            await consumer?.close()
            throw BenchError("no publisher could connect to \(target.description): \(failures.counts)")
        }

        let window = CPUWindow(server: common.server)
        let start = NIODeadline.now().uptimeNanoseconds
        for channel in opened {
            if target.kind.isWebSocket {
                channel.pipeline.fireUserInboundEventTriggered(FrameClientStart())
            } else {
                channel.pipeline.fireUserInboundEventTriggered(DurablePublishStart())
            }
        }
        // The figures are those at the deadline; then the connections stop sending.
        let tally = try await loops.measure(for: common.duration, mode: "events", window: window, counting: "acknowledged")
        let seconds = window.seconds
        let serverCPU = window.serverSeconds
        let generatorCPU = window.generatorSeconds
        var consumed: (published: TallySnapshot, delivered: TallySnapshot)?
        if let consumer { consumed = try await Self.awaitConsumer(consumer, publishers: loops, within: drainTimeout) }
        await consumer?.close()
        for channel in opened { channel.close(promise: nil) }
        await loops.shutdown()

        var result = BenchResult(mode: "events")
        result.addField("server", .string(target.kind == .jetStream ? "jetstream" : "chorus"))
        result.addField("transport", .string(target.kind.transport))
        result.add("publishers", integer: opened.count, "publishers (one publish in flight each)")
        result.add("connect_failures", integer: count - opened.count, "connect failures")
        result.add("acknowledged", integer: tally.deliveries, "publishes acknowledged")
        result.add("acknowledged_per_second", integer: Int(Double(tally.deliveries) / seconds), "acknowledged publishes per second")
        result.add("closed_by_server", integer: tally.closedByServer, "closed by the server")
        result.add("errors", integer: tally.errors.total + failures.total, "errors")
        if tally.errors.total > 0 { result.addField("error_messages", .string("\(tally.errors.counts)")) }
        result.addLatency("latency", tally.latency, "publish → acknowledgement")
        result.addServerCPU(serverCPU, windowSeconds: seconds, work: tally.deliveries, plural: "publishes", singular: "publish")
        result.addGeneratorCPU(window: generatorCPU, windowSeconds: seconds, total: ResourceUsage.cpuSeconds())
        if let consumer, let (published, delivered) = consumed {
            let deliverySeconds = delivered.lastDeliveryNanoseconds > start ? Double(delivered.lastDeliveryNanoseconds - start) / 1e9 : seconds
            result.addField("consumer", .string(consumer.kind.rawValue))
            result.add("acknowledged_total", integer: published.deliveries, "publishes acknowledged (with those in flight at the deadline)")
            result.add("consumer_deliveries", integer: delivered.deliveries, "\(consumer.kind.rawValue) deliveries received")
            result.add("consumer_lost", integer: max(0, published.deliveries - delivered.deliveries), "acknowledged events not delivered")
            result.add("consumer_errors", integer: delivered.errors.total + delivered.closedByServer, "consumer errors")
            result.add("consumer_delivery_seconds", number: deliverySeconds, "first publish to last delivery", unit: " s")
            result.add("consumer_deliveries_per_second", integer: Int(Double(delivered.deliveries) / deliverySeconds), "\(consumer.kind.rawValue) deliveries per second")
            result.addLatency("consumer_latency", delivered.latency, "publish → \(consumer.kind.rawValue) delivery")
        }
        return result
    }

    /// Opens the HTTP (keep-alive) or NATS publishers; a publisher that cannot connect is counted in `failures`.
    private static func openHTTPOrNATS(
        _ count: Int, target: Target, loops: LoopTallies, common: CommonOptions, types: Int, run: String, typePrefix: String, failures: inout ErrorCounts
    ) async throws -> [any Channel] {
        let (apiKey, payloadSize) = (common.credentials.apiKey, common.payloadSize)
        var opened: [any Channel] = []
        for source in 0..<count {
            let tally = loops.tallies[source % loops.tallies.count]
            let ready = tally.eventLoop.makePromise(of: Void.self)
            let bootstrap = ClientBootstrap(group: tally.eventLoop)
                .connectTimeout(.seconds(Int64(common.connectTimeout.rounded(.up))))
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let loop = DurablePublishLoop(source: source, types: types, payloadSize: payloadSize, tally: tally.value, idPrefix: "bench-\(run)")
                        if target.kind == .jetStream {
                            try channel.pipeline.syncOperations.addHandler(JetStreamPublishHandler(loop: loop, subjectPrefix: "bench.", ready: ready))
                        } else {
                            try channel.pipeline.syncOperations.addHTTPClientHandlers()
                            try channel.pipeline.syncOperations.addHandler(EventPublishHandler(loop: loop, host: "\(target.host):\(target.port)", path: target.path, apiKey: apiKey, typePrefix: typePrefix))
                            ready.succeed(())
                        }
                    }
                }
            do {
                let channel = try await bootstrap.connect(host: target.host, port: target.port).get()
                try await ready.futureResult.get()
                opened.append(channel)
            } catch {
                ready.fail(error)
                failures.add("could not connect: \(error)")
            }
        }
        return opened
    }

    /// Waits until the consumer has received every acknowledged event, or its count stopped
    /// moving for 3 s, or `timeout`; returns both final figures. The publishes in flight at the
    /// deadline are answered after it: the publishers' count is read once it stops moving, so
    /// a consumer quick to deliver them is not compared with a count that misses their acks.
    private static func awaitConsumer(_ consumer: EventConsumerProbe, publishers: LoopTallies, within timeout: Double) async throws -> (TallySnapshot, TallySnapshot) {
        let deadline = ContinuousClock.now + .seconds(timeout)
        var published = try await publishers.snapshot()
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            let again = try await publishers.snapshot()
            if again.deliveries == published.deliveries { break }
            published = again
        }
        var last = (count: -1, since: ContinuousClock.now)
        while true {
            let delivered = try await consumer.snapshot()
            if delivered.deliveries >= published.deliveries || ContinuousClock.now >= deadline || ContinuousClock.now - last.since > .seconds(3) {
                return (published, delivered)
            }
            if delivered.deliveries != last.count { last = (delivered.deliveries, ContinuousClock.now) }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Where the publishes go: a hub's HTTP endpoint or WebSocket, or a NATS server.
    struct Target: Sendable, CustomStringConvertible {
        enum Kind: Sendable, Equatable {
            case http, webSocket(EndpointTemplate), jetStream

            var isWebSocket: Bool {
                if case .webSocket = self { return true }
                return false
            }

            /// How the publishes travel, for the result.
            var transport: String {
                switch self {
                case .http: "http"
                case .webSocket: "websocket"
                case .jetStream: "nats"
                }
            }
        }

        var kind: Kind
        var host: String
        var port: Int
        var path: String

        init(_ url: String) throws(BenchError) {
            if url.hasPrefix("nats://") {
                let authority = url.dropFirst("nats://".count).prefix { $0 != "/" }
                let parts = authority.split(separator: ":", maxSplits: 1)
                guard let host = parts.first, parts.count == 2, let port = Int(parts[1]), (1...65535).contains(port) else {
                    throw BenchError("--url: '\(url)' is not nats://HOST:PORT")
                }
                (self.kind, self.host, self.port, self.path) = (.jetStream, String(host), port, "")
                return
            }
            let endpoint = try EndpointTemplate(url)
            if endpoint.scheme == .ws {
                (self.kind, self.host, self.port, self.path) = (.webSocket(endpoint), endpoint.host, endpoint.port, endpoint.target)
                return
            }
            guard !endpoint.tls else {
                throw BenchError("--url: events publishes to http://HOST:PORT or ws://HOST:PORT/ws (a hub) or nats://HOST:PORT (JetStream), not '\(url)'")
            }
            let path = endpoint.target == "/" ? "/api/events/publish" : endpoint.target
            (self.kind, self.host, self.port, self.path) = (.http, endpoint.host, endpoint.port, path)
        }

        var description: String {
            switch self.kind {
            case .jetStream: "nats://\(self.host):\(self.port) (JetStream)"
            case .webSocket(let endpoint): "\(endpoint.tls ? "wss" : "ws")://\(self.host):\(self.port)\(self.path) (event_publish frames)"
            case .http: "http://\(self.host):\(self.port)\(self.path)"
            }
        }
    }
}
