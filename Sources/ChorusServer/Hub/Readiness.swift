public import ChorusCore
import Synchronization

/// The dependencies `GET /ready` reports (PostgreSQL, Redis, …): whoever creates an engine the
/// hub needs registers its check here, once, before the hub serves.
public final class Readiness: Sendable {
    /// One check's answer: nil `failure` when it passed.
    struct Result: Sendable {
        var name: String
        var failure: String?
    }

    private let checks = Mutex<[any ReadinessCheck]>([])

    init() {}

    /// Adds `check` to what `/ready` reports.
    public func register(_ check: any ReadinessCheck) {
        self.checks.withLock { $0.append(check) }
    }

    /// Whether any check is registered (with none, `/ready` has no `checks` to report).
    var isEmpty: Bool { self.checks.withLock { $0.isEmpty } }

    /// Runs every check at once; results in registration order.
    func run() async -> [Result] {
        let checks = self.checks.withLock { $0 }
        return await withTaskGroup(of: (Int, Result).self) { group in
            for (index, check) in checks.enumerated() {
                group.addTask {
                    do {
                        try await check.checkReady()
                        return (index, Result(name: check.name, failure: nil))
                    } catch {
                        return (index, Result(name: check.name, failure: "\(error)"))
                    }
                }
            }
            var results: [(Int, Result)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }
}
