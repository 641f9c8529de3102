import ChorusBench
import Foundation

/// The `chorus serve` child of `chorus bench client`, from this same executable, on a loopback
/// port it keeps across restarts, in a directory of its own (its SQLite history survives a kill).
final class BenchHub {
    let directory: URL
    let arguments: [String]
    private var process: Process?
    private(set) var port = 0

    init(arguments: [String]) throws {
        self.arguments = arguments
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-bench-client-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
    }

    var url: String { "ws://127.0.0.1:\(self.port)/ws" }

    /// Starts the hub (on its earlier port after a stop) and waits until it listens.
    func start() async throws {
        (self.process, self.port) = try await ServeLauncher.start(executable: "/proc/self/exe", arguments: self.arguments, in: self.directory, port: self.port)
    }

    /// SIGKILL (`graceful` false: the clients get no close) or SIGTERM, and waits for the exit.
    func stop(graceful: Bool = true) {
        guard let process = self.process else { return }
        ServeLauncher.stop(process, signal: graceful ? SIGTERM : SIGKILL)
        self.process = nil
    }

    deinit {
        self.stop(graceful: false)
        try? FileManager.default.removeItem(at: self.directory)
    }
}
