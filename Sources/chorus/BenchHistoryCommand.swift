import ChorusCore
import ChorusServer
import Foundation
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// `chorus bench history`: acknowledged durable publishes per second through the hub's real
/// commit path (Hub.publish → group commit to SQLite → ack), in process, without the network.
/// Each of P publishers publishes, waits for its ack, and publishes again (closed loop).
enum BenchHistoryCommand {
    static let usage = "Usage: chorus bench history [--messages 200000] [--publishers 256] [--store-sync full|normal] [--data-size 100] [--data-dir DIR] [--existing-topics 0]"

    static func run(_ arguments: [String]) async throws {
        var messages = 200_000
        var publishers = 256
        var sync = "full"
        var size = 100
        var existingTopics = 0
        var directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-bench-\(UUID().uuidString)").path
        var scanner = ArgumentScanner(arguments, usage: Self.usage)
        while let argument = scanner.next() {
            switch argument {
            case "--messages": messages = try scanner.number(of: argument)
            case "--publishers": publishers = try scanner.number(of: argument)
            case "--store-sync":
                sync = try scanner.value(of: argument)
                guard sync == "full" || sync == "normal" else { throw CommandError("--store-sync is full or normal, not '\(sync)'") }
            case "--data-size": size = try scanner.number(of: argument, minimum: 0)
            case "--data-dir": directory = try scanner.value(of: argument)
            case "--existing-topics": existingTopics = try scanner.number(of: argument, minimum: 0)
            case "--help", "-h":
                print(Self.usage)
                return
            default: throw CommandError("unknown option '\(argument)'\n\n\(Self.usage)")
            }
        }
        var configuration = HubConfiguration()
        configuration.namespaces = ["bench": NamespaceOptions(historySize: 1_000_000)]
        configuration.store = .sqlite
        configuration.dataDirectory = directory
        configuration.storeSync = sync == "normal" ? .normal : .full
        configuration.maxPublishSize = max(configuration.maxPublishSize, size + 16)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let store = try ChorusServer.openStore(configuration)
        let hub = try Hub(
            configuration: configuration,
            eventLoopGroup: group,
            authenticator: try Authenticator(configuration: configuration),
            historyStore: store
        )
        let storeRun = Task { try await store?.run() }
        let data = ByteBuffer(string: "\"" + String(repeating: "x", count: max(0, size - 2)) + "\"")
        try await Self.createTopics(existingTopics, on: hub, data: data)
        let topics = (0..<16).map { try! Topic("bench:t\($0)") }
        let progress = Progress(messages: messages)
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for publisher in 0..<publishers {
                tasks.addTask {
                    var local: [Int64] = []
                    while progress.take() {
                        let sent = ContinuousClock.now
                        _ = try await hub.publishAndWait(topic: topics[publisher % topics.count], event: nil, data: data)
                        let elapsed = ContinuousClock.now - sent
                        local.append(elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000)
                    }
                    progress.record(local)
                }
            }
            try await tasks.waitForAll()
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let sorted = progress.sortedLatencies()
        func percentile(_ p: Double) -> Int64 { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        let result: [String: Any] = [
            "mode": "history", "messages": sorted.count, "existing_topics": existingTopics, "publishers": publishers, "store_sync": sync, "data_bytes": size,
            "seconds": (seconds * 100).rounded() / 100,
            "acked_per_second": Int(Double(sorted.count) / seconds),
            "latency_us": ["p50": percentile(0.5), "p90": percentile(0.9), "p99": percentile(0.99), "max": sorted.last ?? 0],
        ]
        let json = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
        print(String(decoding: json, as: UTF8.self))
        // Cancelled, the store commits what it accepted and stops.
        storeRun.cancel()
        try await storeRun.value
        try await group.shutdownGracefully()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

extension BenchHistoryCommand {
    /// Gives history `count` other topics (one message each) before the measured run, so the
    /// commit cost can be compared at different numbers of topics.
    fileprivate static func createTopics(_ count: Int, on hub: Hub, data: ByteBuffer) async throws {
        guard count > 0 else { return }
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for first in 0..<min(256, count) {
                tasks.addTask {
                    for index in stride(from: first, to: count, by: 256) {
                        _ = try await hub.publishAndWait(topic: try Topic("bench:existing\(index)"), event: nil, data: data)
                    }
                }
            }
            try await tasks.waitForAll()
        }
    }
}

/// What the publishers share: how many messages are left, and every latency measured.
private final class Progress: Sendable {
    private let remaining: Atomic<Int>
    private let latencies = Mutex([Int64]())

    init(messages: Int) {
        self.remaining = Atomic(messages)
    }

    /// True while there is a message left to publish.
    func take() -> Bool {
        self.remaining.subtract(1, ordering: .relaxed).oldValue > 0
    }

    func record(_ microseconds: [Int64]) {
        self.latencies.withLock { $0 += microseconds }
    }

    func sortedLatencies() -> [Int64] {
        self.latencies.withLock { $0.sorted() }
    }
}
