/// The worker processes of one run, each holding a share of the subscribers: the parent
/// re-executes itself (`/proc/self/exe` + the worker arguments) so that a run can hold more
/// sockets than one process may open.
final class WorkerPool: Sendable {
    let workers: [WorkerProcess]

    /// Splits `spec`'s subscribers into shares of at most `perProcess` and starts one worker for each.
    init(spec: FleetSpec, perProcess: Int, workerArguments: [String]) throws {
        let shares = max(1, (spec.count + perProcess - 1) / perProcess)
        self.workers = try (0..<shares).map { share in
            let part = spec.share(from: spec.firstIndex + share * perProcess, count: min(perProcess, spec.count - share * perProcess))
            return try WorkerProcess(executable: "/proc/self/exe", arguments: workerArguments, spec: part)
        }
    }

    /// Starts the workers of `spec` and waits until they have opened their connections; fails
    /// (stopping them) when none could be opened. `mode` names the progress lines.
    static func open(_ spec: FleetSpec, perProcess: Int, workerArguments: [String], mode: String) async throws -> (WorkerPool, WorkerLine.Ready) {
        let pool = try WorkerPool(spec: spec, perProcess: perProcess, workerArguments: workerArguments)
        do {
            ProgressLog.line(mode, "opening \(spec.count.grouped) connections to \(spec.endpoints.map(\.description).joined(separator: ", ")) (\(spec.topics.grouped) topics, \(spec.probes) probes) over \(pool.workers.count) process(es)")
            let ready = try await pool.awaitReady { ProgressLog.line(mode, $0) }
            ProgressLog.line(mode, "\(ready.connected.grouped) open, \(ready.failed.grouped) failed, in \(ready.seconds.fixed(2)) s")
            if ready.connected == 0 { throw BenchError("no connection could be opened: \(ready.errors.counts)") }
            return (pool, ready)
        } catch {
            pool.terminate()
            throw error
        }
    }

    /// Waits until every worker has opened its subscribers, printing progress meanwhile.
    func awaitReady(progress: (String) -> Void) async throws -> WorkerLine.Ready {
        var lastReport = ContinuousClock.now
        while true {
            let ready = self.workers.compactMap(\.ready)
            if ready.count == self.workers.count {
                return ready.reduce(into: WorkerLine.Ready(connected: 0, failed: 0, seconds: 0, errors: ErrorCounts())) { total, part in
                    total.connected += part.connected
                    total.failed += part.failed
                    total.seconds = max(total.seconds, part.seconds)
                    total.errors.merge(part.errors)
                }
            }
            if let dead = self.workers.first(where: { $0.ended && $0.ready == nil }) {
                throw BenchError("a worker process exited before its connections were open (status \(dead.waitForExit()))")
            }
            if ContinuousClock.now - lastReport >= .seconds(2) {
                lastReport = ContinuousClock.now
                progress("\(ready.count) of \(self.workers.count) worker processes have opened their connections")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    var deliveries: Int { self.workers.reduce(0) { $0 + $1.progress.deliveries } }
    var closedByServer: Int { self.workers.reduce(0) { $0 + $1.progress.closedByServer } }
    var stamped: Int { self.workers.reduce(0) { $0 + $1.progress.stamped } }

    func start() {
        for worker in self.workers { worker.send("start") }
    }

    /// Stops every worker and merges their final reports.
    func stop() async throws -> (tally: TallySnapshot, windowCPUSeconds: Double, totalCPUSeconds: Double) {
        for worker in self.workers { worker.send("stop") }
        var merged = TallySnapshot()
        var window = 0.0
        var total = 0.0
        for worker in self.workers {
            while worker.final == nil {
                if worker.ended { throw BenchError("a worker process exited without its report (status \(worker.waitForExit()))") }
                try await Task.sleep(for: .milliseconds(20))
            }
            let final = worker.final!
            merged.merge(final.tally)
            window += final.windowCPUSeconds
            total += final.totalCPUSeconds
            _ = worker.waitForExit()
        }
        return (merged, window, total)
    }

    func terminate() {
        for worker in self.workers { worker.terminate() }
    }
}
