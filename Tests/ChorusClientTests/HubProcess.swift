import Foundation
import Synchronization

/// One `chorus serve` process for a test, on a free loopback port (or the port of a hub it
/// replaces), in a temporary directory it can be restarted in (SQLite history survives).
final class HubProcess: Sendable {
    static let binary: String = ProcessInfo.processInfo.environment["CHORUS_BIN"]
        ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".build/debug/chorus").path

    /// Limits that would trip a test hammering one hub from one address (conftest.py's LIFTED_LIMITS).
    static let liftedLimits = [
        "CHORUS_MAX_CONNECTIONS_PER_IP": "0",
        "CHORUS_MAX_CONNECTIONS_PER_USER": "0",
        "CHORUS_MAX_CONNECT_RATE_PER_IP": "0",
        "CHORUS_MAX_PUBLISH_RATE_PER_CONNECTION": "0",
        "CHORUS_MAX_SUBSCRIBE_RATE_PER_CONNECTION": "0",
        "CHORUS_MAX_API_RATE_PER_KEY": "0",
    ]

    let arguments: [String]
    let directory: URL
    private let state = Mutex<(process: Process?, port: Int?)>((nil, nil))

    init(_ arguments: [String] = []) {
        self.arguments = arguments
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-client-test-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
    }

    var port: Int { self.state.withLock { $0.port! } }
    var url: String { "ws://127.0.0.1:\(self.port)/ws" }

    /// Starts the hub (on its earlier port after a stop) and waits for its listening line.
    @discardableResult
    func start() async throws -> HubProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        let port = self.state.withLock { $0.port } ?? 0
        process.arguments = ["serve", "--host", "127.0.0.1", "--port", String(port)] + self.arguments
        process.currentDirectoryURL = self.directory
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CHORUS_") }
        environment.merge(Self.liftedLimits) { $1 }
        process.environment = environment
        // Standard error goes to a file the test polls: no pipe to fill up, no handler threads.
        let log = self.directory.appendingPathComponent("hub-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        self.state.withLock { $0.process = process }
        // The log is read once more after the deadline: a task that waited long for a thread
        // (CPU-bound tests running beside it) must not take a hub that started for one that did not.
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: #"listening on \S+:(\d+)"#, options: .regularExpression),
                let found = Int(text[range].split(separator: ":").last!)
            {
                self.state.withLock { $0.port = found }
                return self
            }
            guard ContinuousClock.now < deadline, process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw HubError("the hub did not start: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
    }

    /// SIGKILL: the hub dies without a word to its clients.
    func kill() {
        self.signal(SIGKILL)
    }

    /// SIGTERM, and waits for the exit.
    func stop() {
        self.signal(SIGTERM)
    }

    private func signal(_ signal: Int32) {
        guard let process = self.state.withLock({ $0.process }) else { return }
        Foundation.kill(process.processIdentifier, signal)
        // Polled: Process.waitUntilExit can crash in swift-corelibs-foundation's run loop.
        while process.isRunning { usleep(10_000) }
        self.state.withLock { $0.process = nil }
    }

    deinit {
        if let process = self.state.withLock({ $0.process }) {
            Foundation.kill(process.processIdentifier, SIGKILL)
        }
        try? FileManager.default.removeItem(at: self.directory)
    }
}

struct HubError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
