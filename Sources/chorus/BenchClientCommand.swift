import ChorusClient
import Foundation

/// `chorus bench client`: the Swift client's figures (docs/performance.md "ChorusClient"),
/// against a hub this command starts from its own executable: messages per second one
/// `ChorusClient` publishes (acknowledged) and one receives, resident memory per connected
/// client, and the time from a hub restart (after `kill -9`) to each client's recovered
/// resubscription. Run it from a release build; it prints one JSON object.
enum BenchClientCommand {
    static let usage = "Usage: chorus bench client [--messages 50000] [--memory-clients 1000] [--recovery-clients 100] [--down-ms 1000]"

    static func run(_ arguments: [String]) async throws {
        var messages = 50_000
        var memoryClients = 1000
        var recoveryClients = 100
        var downMilliseconds = 1000
        var scanner = ArgumentScanner(arguments, usage: Self.usage)
        while let argument = scanner.next() {
            switch argument {
            case "--messages": messages = try scanner.number(of: argument)
            case "--memory-clients": memoryClients = try scanner.number(of: argument)
            case "--recovery-clients": recoveryClients = try scanner.number(of: argument)
            case "--down-ms": downMilliseconds = try scanner.number(of: argument, minimum: 0)
            case "--help", "-h":
                print(Self.usage)
                return
            default: throw CommandError("unknown option '\(argument)'\n\n\(Self.usage)")
            }
        }
        let hub = try BenchHub(arguments: ["--namespaces", #"{"chat": {"history_size": 1000}}"#, "--store", "sqlite"])
        try await hub.start()
        var result: [String: Any] = ["mode": "client"]
        let rates = try await Self.rates(hub, messages: messages)
        result["messages"] = messages
        result["publish_per_second"] = rates.publish
        result["receive_per_second"] = rates.receive
        result["memory_clients"] = memoryClients
        result["memory_bytes_per_client"] = try await Self.memoryPerClient(hub, clients: memoryClients)
        let recovery = try await Self.recovery(hub, clients: recoveryClients, down: .milliseconds(downMilliseconds))
        result["recovery_clients"] = recoveryClients
        result["down_ms"] = downMilliseconds
        result["recovery_ms"] = ["p50": recovery.p50, "p95": recovery.p95, "max": recovery.max]
        result["recovered_false"] = recovery.failures
        hub.stop()
        print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
    }

    static func configuration() -> ChorusClient.Configuration {
        var configuration = ChorusClient.Configuration()
        configuration.queueLimit = 1_000_000
        return configuration
    }

    static func perSecond(_ count: Int, _ elapsed: Duration) -> Int {
        Int(Double(count) / max(elapsed / .seconds(1), 1e-9))
    }

    /// `messages` publishes of ~30 bytes queued at once by one client to a topic without
    /// history: the time until every `ack` is in; and the time a second client takes from the
    /// first message to the last.
    static func rates(_ hub: BenchHub, messages: Int) async throws -> (publish: Int, receive: Int) {
        let subscriber = try ChorusClient(url: hub.url, configuration: Self.configuration())
        let publisher = try ChorusClient(url: hub.url, configuration: Self.configuration())
        await subscriber.connect()
        await publisher.connect()
        try await publisher.waitUntilConnected()
        let stream = try await subscriber.channel("bench:rate").subscribe()
        let received = Task {
            var seen = 0
            var first: ContinuousClock.Instant?
            for await _ in stream {
                if first == nil { first = .now }
                seen += 1
                if seen == messages { break }
            }
            return ContinuousClock.now - (first ?? .now)
        }
        let start = ContinuousClock.now
        for n in 0..<messages {
            try await publisher.enqueue(QueuedPublish(topic: "bench:rate", event: "n", data: #"{"n":\#(n),"text":"hello"}"#))
        }
        // Polled: the queue empties as the acks come in, and a poll every 5 ms costs nothing measurable.
        while await publisher.stats.queued > 0 { try await Task.sleep(for: .milliseconds(5)) }
        let published = ContinuousClock.now - start
        let receiving = await received.value
        await subscriber.close()
        await publisher.close()
        return (Self.perSecond(messages, published), Self.perSecond(messages, receiving))
    }

    static func residentBytes() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
    }

    /// RSS growth of this process over `clients` connected clients, each with one subscription.
    static func memoryPerClient(_ hub: BenchHub, clients count: Int) async throws -> Int {
        // One client first, so the event loops and the client's code are paged in before the baseline.
        let warm = try ChorusClient(url: hub.url, configuration: Self.configuration())
        await warm.connect()
        let warmSubscription = try await warm.channel("bench:memory").subscribe()
        let before = Self.residentBytes()
        var clients: [ChorusClient] = []
        var subscriptions: [ChorusSubscription] = []  // held: a dropped sequence unsubscribes
        for _ in 0..<count {
            let client = try ChorusClient(url: hub.url, configuration: Self.configuration())
            await client.connect()
            subscriptions.append(try await client.channel("bench:memory").subscribe())
            clients.append(client)
        }
        let perClient = (Self.residentBytes() - before) / count
        for client in clients { await client.close() }
        await warm.close()
        withExtendedLifetime((subscriptions, warmSubscription)) {}
        return perClient
    }

    /// `clients` clients (default backoff: 1 s doubling) subscribed to a history topic; the hub
    /// is killed, stays down `down`, restarts on its port; each client's time from the restart to
    /// its resubscription confirmed, in milliseconds.
    static func recovery(_ hub: BenchHub, clients count: Int, down: Duration) async throws -> (p50: Int, p95: Int, max: Int, failures: Int) {
        let seed = try ChorusClient(url: hub.url, configuration: Self.configuration())
        await seed.connect()
        try await seed.publish(topic: "chat:restart", data: ["n": 0])
        var clients: [ChorusClient] = []
        var subscriptions: [ChorusSubscription] = []
        for _ in 0..<count {
            let client = try ChorusClient(url: hub.url, configuration: Self.configuration())
            await client.connect()
            subscriptions.append(try await client.channel("chat:restart").subscribe())
            clients.append(client)
        }
        hub.stop(graceful: false)
        try await Task.sleep(for: down)
        try await hub.start()
        let restarted = ContinuousClock.now
        let times = try await withThrowingTaskGroup(of: Duration.self) { group in
            for client in clients {
                group.addTask {
                    let channel = client.channel("chat:restart")
                    // Polled: recovery is a state of the client's actor with no event of its own.
                    while true {
                        let reconnected = await client.stats.reconnections > 0
                        if reconnected, await channel.isSubscribed { break }
                        if ContinuousClock.now - restarted > .seconds(120) { throw CommandError("a client did not recover within 120 s") }
                        try await Task.sleep(for: .milliseconds(5))
                    }
                    return ContinuousClock.now - restarted
                }
            }
            var times: [Duration] = []
            for try await time in group { times.append(time) }
            return times.sorted()
        }
        var failures = 0
        for client in clients { failures += await client.stats.recoveryFailures }
        for client in clients { await client.close() }
        await seed.close()
        withExtendedLifetime(subscriptions) {}
        func milliseconds(_ duration: Duration) -> Int { Int(duration / .milliseconds(1)) }
        return (milliseconds(times[times.count / 2]), milliseconds(times[min(times.count - 1, times.count * 95 / 100)]), milliseconds(times.last!), failures)
    }
}
