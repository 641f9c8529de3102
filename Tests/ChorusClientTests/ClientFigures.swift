import ChorusCore
import Foundation
import Testing

@testable import ChorusClient

/// The figures of docs/performance.md ("ChorusClient"): a benchmark, not a test. It asserts
/// nothing about speed and runs only when asked:
/// `CHORUS_CLIENT_FIGURES=1 swift test --filter ClientFigures`.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["CHORUS_CLIENT_FIGURES"] == "1"))
struct ClientFigures {
    static func configuration() -> ChorusClient.Configuration {
        var configuration = ChorusClient.Configuration()
        configuration.queueLimit = 1_000_000
        return configuration
    }

    static func report(_ line: String) {
        FileHandle.standardError.write(Data("FIGURE \(line)\n".utf8))
    }

    @Test func messagesPerSecondOneClientPublishesAndReceives() async throws {
        let hub = try await HubProcess().start()
        let subscriber = try ChorusClient(url: hub.url, configuration: Self.configuration())
        let publisher = try ChorusClient(url: hub.url, configuration: Self.configuration())
        await subscriber.connect()
        await publisher.connect()
        try await publisher.waitUntilConnected()
        let messages = try await subscriber.channel("bench:rate").subscribe()
        let count = 50_000
        let received = Task {
            var seen = 0
            var first: ContinuousClock.Instant?
            for await _ in messages {
                if first == nil { first = .now }
                seen += 1
                if seen == count { break }
            }
            return ContinuousClock.now - first!
        }
        let start = ContinuousClock.now
        for n in 0..<count {
            try await publisher.enqueue(QueuedPublish(topic: "bench:rate", event: "n", data: #"{"n":\#(n),"text":"hello"}"#))
        }
        while await publisher.stats.queued > 0 { try await Task.sleep(for: .milliseconds(5)) }
        let published = ContinuousClock.now - start
        let receiving = await received.value
        Self.report("publish: \(count) acknowledged publishes in \(published): \(Int(Double(count) / (published / .seconds(1))))/s")
        Self.report("receive: \(count) messages in \(receiving): \(Int(Double(count) / (receiving / .seconds(1))))/s")
        await subscriber.close()
        await publisher.close()
        hub.stop()
    }

    static func residentBytes() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
    }

    @Test func memoryPerConnectedClient() async throws {
        let hub = try await HubProcess().start()
        let count = 1000
        var clients: [ChorusClient] = []
        var subscriptions: [ChorusSubscription] = []
        // One client first, so the event loops and the hub's code are paged in before the baseline.
        let warm = try ChorusClient(url: hub.url, configuration: Self.configuration())
        await warm.connect()
        let warmSubscription = try await warm.channel("bench:memory").subscribe()
        let before = Self.residentBytes()
        for _ in 0..<count {
            let client = try ChorusClient(url: hub.url, configuration: Self.configuration())
            await client.connect()
            subscriptions.append(try await client.channel("bench:memory").subscribe())
            clients.append(client)
        }
        let after = Self.residentBytes()
        Self.report("memory: \(count) connected clients, one subscription each: \((after - before) / count) bytes of resident memory per client")
        for client in clients { await client.close() }
        #expect(subscriptions.count == count && warmSubscription.topic == "bench:memory")
        await warm.close()
        hub.stop()
    }

    @Test func reconnectToRecoveredAfterAHubRestart() async throws {
        let hub = try await HubProcess(["--namespaces", #"{"chat": {"history_size": 1000}}"#, "--store", "sqlite"]).start()
        let count = 100
        var clients: [ChorusClient] = []
        var subscriptions: [ChorusSubscription] = []  // held: a dropped sequence unsubscribes
        let seed = try ChorusClient(url: hub.url, configuration: Self.configuration())
        await seed.connect()
        try await seed.publish(topic: "chat:restart", data: ["n": 0])
        for _ in 0..<count {
            let client = try ChorusClient(url: hub.url, configuration: Self.configuration())  // default backoff: 1 s doubling
            await client.connect()
            subscriptions.append(try await client.channel("chat:restart").subscribe())
            clients.append(client)
        }
        hub.kill()
        try await Task.sleep(for: .seconds(1))
        try await hub.start()
        let restarted = ContinuousClock.now
        // Recovered: reconnected, and the resubscription's `subscribed` (recovered: true) is in.
        let times = try await withThrowingTaskGroup(of: Duration.self) { group in
            for client in clients {
                group.addTask {
                    while true {
                        let reconnected = await client.stats.reconnections > 0
                        let subscribed = await client.isSubscribed("chat:restart")
                        if reconnected && subscribed { break }
                        if ContinuousClock.now - restarted > .seconds(90) {
                            let state = await client.state
                            let stats = await client.stats
                            throw HubError("not recovered: \(state) reconnected \(reconnected) subscribed \(subscribed) \(stats)")
                        }
                        try await Task.sleep(for: .milliseconds(20))
                    }
                    return ContinuousClock.now - restarted
                }
            }
            var times: [Duration] = []
            for try await time in group { times.append(time) }
            return times.sorted()
        }
        let failures = await clients.asyncMap { await $0.stats.recoveryFailures }.reduce(0, +)
        Self.report("recovery: \(count) clients after a kill -9 and restart (down 1 s): p50 \(times[count / 2]), p95 \(times[count * 95 / 100]), max \(times.last!); recovered: false \(failures) times")
        for client in clients { await client.close() }
        #expect(subscriptions.count == count)
        await seed.close()
        hub.stop()
    }
}

extension ChorusClient {
    /// Whether `name`'s subscription is confirmed on the current connection (figures only).
    func isSubscribed(_ name: String) -> Bool {
        self.subscriptions[name]?.confirmed == true
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async -> T) async -> [T] {
        var result: [T] = []
        for element in self { result.append(await transform(element)) }
        return result
    }
}
