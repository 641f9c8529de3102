import ChorusCore
import Dispatch
import Synchronization

/// Gathers concurrent publishes into one `append` (group commit): each publisher waits in a
/// locked queue; one commit loop takes everything queued, appends it in one transaction and
/// answers each publisher with its receipt, only after the commit. While a commit runs the
/// next publishes queue, so under load every transaction carries a batch and pays one fsync.
///
/// A store that can append by blocking (SQLite) is committed to from a serial queue of the
/// committer's own, and publishers are answered from there: a publish then crosses two threads
/// (the caller's and the committer's) instead of a task, the store's queue and a task again.
final class EventCommitter: Sendable {
    typealias Completion = @Sendable (Result<[EventReceipt], any Error>) -> Void

    private struct Waiting {
        var events: [Event]
        var completion: Completion
    }

    private struct State {
        var queue: [Waiting] = []
        var committing = false
    }

    /// The most events one transaction carries.
    static let maxBatch = 500

    private let store: any EventStore
    private let blocking: (any BlockingEventAppend)?
    /// Where a blocking store's commit loop runs.
    private let commits = DispatchQueue(label: "chorus.events.commit")
    private let window: Int64
    private let clock: @Sendable () -> Int64
    private let state = Mutex(State())
    /// Called after each commit that appended something new (wakes the dispatchers).
    private let onCommit: @Sendable () -> Void

    init(store: any EventStore, idempotencyWindow: Int64, clock: @escaping @Sendable () -> Int64, onCommit: @escaping @Sendable () -> Void) {
        self.store = store
        self.blocking = store as? any BlockingEventAppend
        self.window = idempotencyWindow
        self.clock = clock
        self.onCommit = onCommit
    }

    /// Appends `events` (in order, in one transaction, possibly with others' events) and
    /// returns their receipts once committed.
    func append(_ events: [Event]) async throws -> [EventReceipt] {
        try await withCheckedThrowingContinuation { continuation in
            self.append(events) { continuation.resume(with: $0) }
        }
    }

    /// ``append(_:)``, calling `completion` with the receipts once committed, on the
    /// committer's thread (at once for no events).
    func append(_ events: [Event], completion: @escaping Completion) {
        guard !events.isEmpty else { return completion(.success([])) }
        let startsCommitter = self.state.withLock { state in
            state.queue.append(Waiting(events: events, completion: completion))
            guard !state.committing else { return false }
            state.committing = true
            return true
        }
        guard startsCommitter else { return }
        if let blocking = self.blocking {
            self.commits.async { self.commitLoop(blocking) }
        } else {
            Task { await self.commitLoop() }
        }
    }

    /// Commits batches until the queue is empty, blocking on the store.
    private func commitLoop(_ store: any BlockingEventAppend) {
        while let batch = self.nextBatch() {
            self.finish(batch, Result { try store.appendBlocking(batch.flatMap(\.events), now: self.clock(), idempotencyWindow: self.window) })
        }
    }

    /// Commits batches until the queue is empty.
    private func commitLoop() async {
        while let batch = self.nextBatch() {
            do {
                self.finish(batch, .success(try await self.store.append(batch.flatMap(\.events), now: self.clock(), idempotencyWindow: self.window)))
            } catch {
                self.finish(batch, .failure(error))
            }
        }
    }

    /// What the next transaction carries (at most ``maxBatch`` events, unless one publish has
    /// more); nil, and the loop ends, when nothing waits.
    private func nextBatch() -> [Waiting]? {
        self.state.withLock { state in
            var taken: [Waiting] = []
            var count = 0
            while let first = state.queue.first, taken.isEmpty || count + first.events.count <= Self.maxBatch {
                taken.append(state.queue.removeFirst())
                count += first.events.count
            }
            if taken.isEmpty { state.committing = false }
            return taken.isEmpty ? nil : taken
        }
    }

    /// Answers each publisher of `batch` with its share of the receipts (or the error).
    private func finish(_ batch: [Waiting], _ result: Result<[EventReceipt], any Error>) {
        switch result {
        case .success(let receipts):
            var offset = 0
            for waiting in batch {
                waiting.completion(.success(Array(receipts[offset..<offset + waiting.events.count])))
                offset += waiting.events.count
            }
            if receipts.contains(where: { !$0.duplicate }) { self.onCommit() }
        case .failure(let error):
            for waiting in batch { waiting.completion(.failure(error)) }
        }
    }
}
