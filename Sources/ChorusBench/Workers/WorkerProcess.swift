import Foundation
import Synchronization

/// A worker process as its parent sees it: the chorus executable run again with the worker
/// arguments and a ``FleetSpec``; what it reported so far; and a way to send it commands.
final class WorkerProcess: Sendable {
    private struct State {
        var ready: WorkerLine.Ready?
        var progress = WorkerLine.Progress(deliveries: 0, closedByServer: 0)
        var final: WorkerLine.Final?
        var ended = false
    }

    private let process: Process
    private let input: FileHandle
    private let state = Mutex(State())

    /// Starts `executable arguments… SPEC` and begins reading its report lines.
    init(executable: String, arguments: [String], spec: FleetSpec) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments + [String(decoding: try JSONEncoder().encode(spec), as: UTF8.self)]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        self.process = process
        self.input = input.fileHandleForWriting
        LineChannel.readLines(
            from: output.fileHandleForReading,
            line: { [self] data in
                guard let line = try? JSONDecoder().decode(WorkerLine.self, from: data) else { return }
                self.state.withLock {
                    if let ready = line.ready { $0.ready = ready }
                    if let progress = line.progress { $0.progress = progress }
                    if let final = line.final { $0.final = final }
                }
            },
            end: { [self] in self.state.withLock { $0.ended = true } }
        )
    }

    var ready: WorkerLine.Ready? { self.state.withLock { $0.ready } }
    var progress: WorkerLine.Progress { self.state.withLock { $0.progress } }
    var final: WorkerLine.Final? { self.state.withLock { $0.final } }

    /// True when the worker's output ended without the report that was awaited.
    var ended: Bool { self.state.withLock { $0.ended } }

    func send(_ command: String) {
        try? self.input.write(contentsOf: Data((command + "\n").utf8))
    }

    /// Waits for the process to exit (it does after its final report).
    func waitForExit() -> Int32 {
        self.process.waitUntilExit()
        return self.process.terminationStatus
    }

    func terminate() {
        if self.process.isRunning { self.process.terminate() }
    }
}
