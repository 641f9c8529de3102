public import Foundation

/// Starts a `chorus serve` child on a loopback port and waits until it listens: for `chorus
/// bench client`, which restarts its hub, and for the Swift client's tests.
public enum ServeLauncher {
    /// Per-address and per-connection limits lifted: one process opens every connection of a run
    /// from one address, as fast as it can (conftest.py's LIFTED_LIMITS).
    public static let liftedLimits = [
        "CHORUS_MAX_CONNECTIONS_PER_IP": "0",
        "CHORUS_MAX_CONNECTIONS_PER_USER": "0",
        "CHORUS_MAX_CONNECT_RATE_PER_IP": "0",
        "CHORUS_MAX_PUBLISH_RATE_PER_CONNECTION": "0",
        "CHORUS_MAX_SUBSCRIBE_RATE_PER_CONNECTION": "0",
        "CHORUS_MAX_API_RATE_PER_KEY": "0",
    ]

    /// Runs `executable serve --host 127.0.0.1 --port PORT ARGUMENTS` in `directory` (port 0:
    /// any free one), with this process's environment less its `CHORUS_` variables plus
    /// ``liftedLimits``, standard error in a log file in `directory`; returns once the log has
    /// the `listening on` line, with the port it names.
    public static func start(executable: String, arguments: [String], in directory: URL, port: Int = 0) async throws -> (process: Process, port: Int) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["serve", "--host", "127.0.0.1", "--port", String(port)] + arguments
        process.currentDirectoryURL = directory
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CHORUS_") }
        environment.merge(Self.liftedLimits) { $1 }
        process.environment = environment
        // A file the caller polls: no pipe to fill up, no handler threads.
        let log = directory.appendingPathComponent("hub-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // The log is read once more after the deadline: a task that waited long for a thread
        // (CPU-bound work beside it) must not take a hub that started for one that did not.
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: #"listening on \S+:(\d+)"#, options: .regularExpression),
                let found = Int(text[range].split(separator: ":").last!)
            {
                return (process, found)
            }
            guard ContinuousClock.now < deadline, process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        kill(process.processIdentifier, SIGKILL)
        throw BenchError("the hub did not start: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
    }

    /// Sends `signal` to `process` and waits for it to exit.
    public static func stop(_ process: Process, signal: Int32) {
        kill(process.processIdentifier, signal)
        // Polled: Process.waitUntilExit can crash in swift-corelibs-foundation's run loop.
        while process.isRunning { usleep(10_000) }
    }
}
