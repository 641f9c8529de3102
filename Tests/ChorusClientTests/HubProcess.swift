import ChorusBench
import Foundation
import Synchronization

/// One `chorus serve` process for a test, on a free loopback port (or the port of a hub it
/// replaces), in a temporary directory it can be restarted in (SQLite history survives).
final class HubProcess: Sendable {
    static let binary: String = ProcessInfo.processInfo.environment["CHORUS_BIN"]
        ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".build/debug/chorus").path

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
        let port = self.state.withLock { $0.port } ?? 0
        let (process, found) = try await ServeLauncher.start(executable: Self.binary, arguments: self.arguments, in: self.directory, port: port)
        self.state.withLock { $0 = (process, found) }
        return self
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
        ServeLauncher.stop(process, signal: signal)
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
