import Foundation
import NIOCore
import Synchronization

/// The worker side: `chorus bench worker SPEC-JSON`, started by a parent run. It opens its share
/// of subscribers, says `ready`, reports progress every second, starts its CPU window on `start`,
/// and on `stop` (or when its stdin closes) sends its final report and exits.
public enum WorkerMain {
    public static func run(specJSON: String) async throws {
        let spec = try JSONDecoder().decode(FleetSpec.self, from: Data(specJSON.utf8))
        let output = FileHandle.standardOutput
        let fleet = SubscriberFleet(spec: spec)
        let commands = AsyncStream<String> { continuation in
            LineChannel.readLines(
                from: FileHandle.standardInput,
                line: { continuation.yield(String(decoding: $0, as: UTF8.self)) },
                end: { continuation.finish() }
            )
        }
        let ready = try await fleet.open()
        try LineChannel.send(WorkerLine(ready: ready), to: output)
        let reporter = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(1))
                try LineChannel.send(WorkerLine(progress: try await fleet.progress()), to: output)
            }
        }
        var windowStart = ResourceUsage.cpuSeconds()
        for await command in commands {
            if command == "start" {
                windowStart = ResourceUsage.cpuSeconds()
            } else if command == "stop" {
                break
            }
        }
        reporter.cancel()
        let tally = try await fleet.snapshot()
        let now = ResourceUsage.cpuSeconds()
        try LineChannel.send(WorkerLine(final: .init(tally: tally, windowCPUSeconds: now - windowStart, totalCPUSeconds: now)), to: output)
        await fleet.shutdown()
    }
}
