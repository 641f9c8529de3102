import Synchronization

/// Open connections by key (client IP, user), with a ceiling, shared by every event loop.
final class ConnectionCounter: Sendable {
    /// 0: unlimited (nothing is counted).
    let limit: Int
    private let counts = Mutex([String: Int]())

    init(limit: Int) {
        self.limit = limit
    }

    /// Counts one more connection for `key`; false (nothing counted) at the ceiling.
    func acquire(_ key: String) -> Bool {
        guard self.limit > 0 else { return true }
        return self.counts.withLock { counts in
            let count = counts[key, default: 0]
            guard count < self.limit else { return false }
            counts[key] = count + 1
            return true
        }
    }

    /// Undoes one successful ``acquire(_:)``.
    func release(_ key: String) {
        guard self.limit > 0 else { return }
        self.counts.withLock { counts in
            guard let count = counts[key] else { return }
            counts[key] = count > 1 ? count - 1 : nil
        }
    }

    func count(of key: String) -> Int {
        self.counts.withLock { $0[key, default: 0] }
    }
}
