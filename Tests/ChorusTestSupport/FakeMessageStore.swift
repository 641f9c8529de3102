public import ChorusCore
import Dispatch
import Synchronization

/// A ``MessageStore`` for tests of the commit path: in memory, it counts its transactions (one
/// per ``append(_:)``), fails the next ones on demand, and can hold the committer inside a
/// transaction until the test releases it, so that publishes meanwhile queue for the next one.
public final class FakeMessageStore: MessageStore {
    private struct State {
        var transactions: [Int] = []
        var failures = 0
        var holdNext = false
        /// The committer waits inside a transaction.
        var held = false
        var heldWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let memory = MemoryMessageStore()
    private let state = Mutex(State())
    private let gate = DispatchSemaphore(value: 0)

    public init() {}

    /// The number of messages of each successful transaction, in order.
    public var transactions: [Int] {
        self.state.withLock { $0.transactions }
    }

    /// The next `count` transactions fail.
    public func failNext(_ count: Int = 1) {
        self.state.withLock { $0.failures += count }
    }

    /// The next transaction waits inside the store until ``release()``.
    public func holdNext() {
        self.state.withLock { $0.holdNext = true }
    }

    /// Returns once the committer waits inside a held transaction.
    public func waitUntilHeld() async {
        await withCheckedContinuation { continuation in
            let held = self.state.withLock { state in
                if !state.held { state.heldWaiters.append(continuation) }
                return state.held
            }
            if held { continuation.resume() }
        }
    }

    /// Lets a held transaction go on.
    public func release() {
        self.state.withLock { $0.held = false }
        self.gate.signal()
    }

    public func append(_ batch: AppendBatch) throws {
        // Failure is decided on entry, so a test can ask for it while a transaction is held.
        let (fails, waiters) = self.state.withLock { state -> (Bool, [CheckedContinuation<Void, Never>]?) in
            let fails = state.failures > 0
            if fails { state.failures -= 1 }
            guard state.holdNext else { return (fails, nil) }
            state.holdNext = false
            state.held = true
            defer { state.heldWaiters = [] }
            return (fails, state.heldWaiters)
        }
        if let waiters {
            for waiter in waiters { waiter.resume() }
            self.gate.wait()
        }
        if fails { throw StoreError("disk full (on demand)") }
        try self.memory.append(batch)
        self.state.withLock { $0.transactions.append(batch.messages.count) }
    }

    public func loadSnapshot() throws -> StoreSnapshot { try self.memory.loadSnapshot() }

    public func messages(topic: String, after offset: UInt64, limit: Int) throws -> [StoredMessage] {
        try self.memory.messages(topic: topic, after: offset, limit: limit)
    }

    public func messages(topic: String, before offset: UInt64, limit: Int) throws -> [StoredMessage] {
        try self.memory.messages(topic: topic, before: offset, limit: limit)
    }

    public func messages(
        matching patterns: [TopicPattern], afterSequence sequence: UInt64, through last: UInt64, newerThan timestamp: Int64?, limit: Int, maxBytes: Int
    ) throws -> [StoredMessage] {
        try self.memory.messages(matching: patterns, afterSequence: sequence, through: last, newerThan: timestamp, limit: limit, maxBytes: maxBytes)
    }

    public func trim(namespace: String, olderThan timestamp: Int64) throws -> [String] {
        try self.memory.trim(namespace: namespace, olderThan: timestamp)
    }

    public func mayHaveTrimmed(matching patterns: [TopicPattern], newerThan timestamp: Int64) throws -> Bool {
        try self.memory.mayHaveTrimmed(matching: patterns, newerThan: timestamp)
    }
}
