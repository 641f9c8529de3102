import ChorusCore
import Synchronization

/// Gathers concurrent publishes into one `append` (group commit): each publisher waits in a
/// locked queue; one commit loop takes everything queued, appends it in one transaction and
/// answers each publisher with its receipt, only after the commit. While a commit runs the
/// next publishes queue, so under load every transaction carries a batch and pays one fsync.
final class EventCommitter: Sendable {
    private struct Waiting {
        var events: [Event]
        var continuation: CheckedContinuation<[EventReceipt], any Error>
    }

    private struct State {
        var queue: [Waiting] = []
        var committing = false
    }

    /// The most events one transaction carries.
    static let maxBatch = 500

    private let store: any EventStore
    private let window: Int64
    private let clock: @Sendable () -> Int64
    private let state = Mutex(State())
    /// Called after each commit that appended something new (wakes the dispatchers).
    private let onCommit: @Sendable () -> Void

    init(store: any EventStore, idempotencyWindow: Int64, clock: @escaping @Sendable () -> Int64, onCommit: @escaping @Sendable () -> Void) {
        self.store = store
        self.window = idempotencyWindow
        self.clock = clock
        self.onCommit = onCommit
    }

    /// Appends `events` (in order, in one transaction, possibly with others' events) and
    /// returns their receipts once committed.
    func append(_ events: [Event]) async throws -> [EventReceipt] {
        guard !events.isEmpty else { return [] }
        return try await withCheckedThrowingContinuation { continuation in
            let startsCommitter = self.state.withLock { state in
                state.queue.append(Waiting(events: events, continuation: continuation))
                guard !state.committing else { return false }
                state.committing = true
                return true
            }
            if startsCommitter { Task { await self.commitLoop() } }
        }
    }

    /// Commits batches until the queue is empty.
    private func commitLoop() async {
        while true {
            let batch: [Waiting] = self.state.withLock { state in
                var taken: [Waiting] = []
                var count = 0
                while let first = state.queue.first, taken.isEmpty || count + first.events.count <= Self.maxBatch {
                    taken.append(state.queue.removeFirst())
                    count += first.events.count
                }
                if taken.isEmpty { state.committing = false }
                return taken
            }
            guard !batch.isEmpty else { return }
            do {
                let receipts = try await self.store.append(batch.flatMap(\.events), now: self.clock(), idempotencyWindow: self.window)
                var offset = 0
                for waiting in batch {
                    waiting.continuation.resume(returning: Array(receipts[offset..<offset + waiting.events.count]))
                    offset += waiting.events.count
                }
                if receipts.contains(where: { !$0.duplicate }) { self.onCommit() }
            } catch {
                for waiting in batch { waiting.continuation.resume(throwing: error) }
            }
        }
    }
}
