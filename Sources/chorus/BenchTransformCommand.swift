import ChorusCore
import ChorusServer
import Foundation
import NIOCore
import NIOPosix

/// `chorus bench transform MODULE`: what a namespace's transform adds to a publish, in process:
/// `Hub.publish` on an event loop (as a WebSocket publish runs) to a topic with the transform and
/// to one without, message by message, with no subscribers, so the difference is the transform.
enum BenchTransformCommand {
    static let usage = "Usage: chorus bench transform MODULE.wasm|MODULE.wat [--data JSON] [--messages 100000] [--warmup 5000]"

    static func run(_ arguments: [String]) async throws {
        var scanner = ArgumentScanner(arguments, usage: Self.usage)
        var module: String?
        var data = #"{"user":"ann","email":"ann@example.com","card":"4111111111111111","text":"well heck, that is a darn fine idea"}"#
        var messages = 100_000
        var warmup = 5_000
        while let argument = scanner.next() {
            switch argument {
            case "--data": data = try scanner.value(of: argument)
            case "--messages": messages = try scanner.number(of: argument)
            case "--warmup": warmup = try scanner.number(of: argument, minimum: 0)
            case "--help", "-h":
                print(Self.usage)
                return
            default:
                guard module == nil, !argument.hasPrefix("-") else { throw CommandError("unexpected argument '\(argument)'\n\n\(Self.usage)") }
                module = argument
            }
        }
        guard let module else { throw CommandError(Self.usage) }
        var configuration = HubConfiguration()
        configuration.namespaces = ["bench": NamespaceOptions(transform: module)]
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let hub = try Hub(configuration: configuration, eventLoopGroup: group, authenticator: try Authenticator(configuration: configuration))
        let payload = ByteBuffer(string: data)
        let loop = group.next()
        let (count, unmeasured) = (messages, warmup)
        let with = try await loop.submit { try Self.measure(hub, topic: Topic("bench:t"), data: payload, messages: count, warmup: unmeasured) }.get()
        let without = try await loop.submit { try Self.measure(hub, topic: Topic("plain:t"), data: payload, messages: count, warmup: unmeasured) }.get()
        func percentile(_ sorted: [Int64], _ p: Double) -> Double {
            Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1000
        }
        let result: [String: Any] = [
            "mode": "transform", "module": module, "messages": messages, "data_bytes": payload.readableBytes,
            "with_transform_us": ["p50": percentile(with, 0.5), "p99": percentile(with, 0.99)],
            "without_transform_us": ["p50": percentile(without, 0.5), "p99": percentile(without, 0.99)],
            "transform_cost_us": ["p50": percentile(with, 0.5) - percentile(without, 0.5), "p99": percentile(with, 0.99) - percentile(without, 0.99)],
        ]
        print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
        try await group.shutdownGracefully()
    }

    /// Publish latencies in nanoseconds, sorted, after `warmup` unmeasured publishes.
    private static func measure(_ hub: Hub, topic: Topic, data: ByteBuffer, messages: Int, warmup: Int) throws -> [Int64] {
        var latencies: [Int64] = []
        latencies.reserveCapacity(messages)
        for index in 0..<(warmup + messages) {
            let started = ContinuousClock.now
            try hub.publish(topic: topic, event: nil, data: data)
            let elapsed = ContinuousClock.now - started
            if index >= warmup { latencies.append(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000) }
        }
        return latencies.sorted()
    }
}
