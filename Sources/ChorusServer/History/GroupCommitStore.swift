public import ChorusCore
public import Logging
public import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// A ``HistoryStore`` over a synchronous ``MessageStore`` (SQLite, memory): the single writer
/// that assigns each message its offset (and each new topic its epoch), commits many appends per
/// backend transaction (group commit), and only then acknowledges them and hands them on, in
/// offset order.
///
/// Appends queue in a locked inbox; one job at a time on a dedicated thread drains it, so a
/// burst of publishes shares one commit, and offsets, commits and deliveries stay in one order.
/// The committer, the readers and TTL trimming run while the store runs (``run()``).
public final class GroupCommitStore: HistoryStore {
    private enum Phase {
        /// Appends wait for ``run()``.
        case notStarted
        case running
        /// Shut down: appends fail.
        case stopped
    }

    private struct State {
        var phase = Phase.notStarted
        var pending: [HistoryAppend] = []
        /// Expired messages are due to be trimmed, between two commits.
        var trimDue = false
        var committing = false
        /// Committed positions: what readers may rely on. A topic at offset 0 has no message
        /// yet: its epoch was given to a subscriber, and its first commit creates it.
        var topics: [String: TopicHistoryState]
        /// Topics at offset 0, at most ``maxEmptyTopics``.
        var emptyTopics = 0
        var lastSequence: UInt64
        var onCommit: (@Sendable (HistoryCommit) -> Void)?
        /// Who waits for the committer to go idle (shutdown).
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
        /// Reads asked for before ``run()`` started the readers' threads (the listener may
        /// take a client before the store's service is scheduled): submitted once it has.
        var readsBeforeRun: [@Sendable () -> Void] = []
    }

    /// The synchronous store underneath.
    public let backend: any MessageStore
    private let state: Mutex<State>
    private let writer = NIOThreadPool(numberOfThreads: 1)
    /// Reads (recovery, the history API) run here, off the event loops and the writer, which also trims.
    private let readers = NIOThreadPool(numberOfThreads: 2)
    /// Per namespace, how long its messages are kept.
    private let ttls: [String: Duration]
    private let logger: Logger

    /// Reads what `backend` holds (its topics' positions), without starting anything.
    ///
    /// - Parameter ttls: per namespace, how long its messages are kept (none: as many as its
    ///   history size, however old).
    public init(backend: any MessageStore, ttls: [String: Duration] = [:], logger: Logger = Logger(label: "chorus.history")) throws {
        let snapshot = try backend.loadSnapshot()
        self.backend = backend
        self.state = Mutex(State(topics: snapshot.topics, lastSequence: snapshot.lastSequence))
        self.ttls = ttls
        self.logger = logger
    }

    /// Runs the committer, the readers and trimming until graceful shutdown (or cancellation),
    /// then commits what was accepted and stops them.
    public func run() async throws {
        self.writer.start()
        self.readers.start()
        var readsBeforeRun: [@Sendable () -> Void] = []
        self.wakeCommitter { state in
            state.phase = .running
            swap(&readsBeforeRun, &state.readsBeforeRun)
            return true
        }
        for read in readsBeforeRun { read() }
        if let interval = self.trimInterval {
            try? await cancelWhenGracefulShutdown {
                while true {
                    try await Task.sleep(for: interval)
                    self.trimSoon()
                }
            }
        } else {
            try? await gracefulShutdown()
        }
        await self.stop()
    }

    /// Refuses further appends, waits for the committer to finish what it accepted, stops the
    /// threads and closes the backend.
    private func stop() async {
        self.state.withLock { $0.phase = .stopped }
        await self.waitUntilIdle()
        try? await self.writer.shutdownGracefully()
        try? await self.readers.shutdownGracefully()
        // Now, not when the backend's last reference goes: that may be a task's, released after
        // the process has ended (SQLite would leave its WAL behind).
        do {
            try self.backend.close()
        } catch {
            self.logger.warning("closing the history store failed", metadata: ["error": "\(error)"])
        }
    }

    /// Returns once the committer has nothing left to do (what was accepted is committed).
    package func waitUntilIdle() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let idle = self.state.withLock { state in
                if state.committing {
                    state.idleWaiters.append(continuation)
                    return false
                }
                return true
            }
            if idle { continuation.resume() }
        }
    }

    /// Sets who gets each group commit (after its completions): the hub, which hands it to its broker.
    public func onCommit(_ handler: @escaping @Sendable (HistoryCommit) -> Void) {
        self.state.withLock { $0.onCommit = handler }
    }

    /// Where `topic` stands and the newest committed sequence, read together without blocking.
    public func committedPosition(of topic: String) -> (state: TopicHistoryState?, sequence: UInt64) {
        self.state.withLock { ($0.topics[topic], $0.lastSequence) }
    }

    /// Where `topic` stands now, as far as committed messages go.
    public func committedState(of topic: String) -> TopicHistoryState? {
        self.committedPosition(of: topic).state
    }

    /// The sequence of the newest committed message, across all topics.
    public func committedSequence() -> UInt64 {
        self.state.withLock { $0.lastSequence }
    }

    /// How many empty topics may hold an epoch given to their subscribers; past it, subscribers
    /// of further empty topics get none (and cannot resume before the first message).
    static let maxEmptyTopics = 100_000

    /// ``committedPosition(of:)``, except that a topic with no message yet gets its epoch now
    /// (held in memory until its first commit; lost with a restart, which is safe).
    public func subscriberPosition(of topic: String, on loop: any EventLoop) -> EventLoopFuture<HistoryPosition> {
        let position = self.state.withLock { state in
            if state.topics[topic] == nil, state.emptyTopics < Self.maxEmptyTopics {
                state.topics[topic] = TopicHistoryState(epoch: Self.makeEpoch(), lastOffset: 0)
                state.emptyTopics += 1
            }
            return HistoryPosition(state: state.topics[topic], sequence: state.lastSequence)
        }
        return loop.makeSucceededFuture(position)
    }

    /// ``committedPosition(of:)``, as a future already complete: no hop.
    public func committedPosition(of topic: String, on loop: any EventLoop) -> EventLoopFuture<HistoryPosition> {
        let (state, sequence) = self.committedPosition(of: topic)
        return loop.makeSucceededFuture(HistoryPosition(state: state, sequence: sequence))
    }

    /// ``committedSequence()``, as a future already complete: no hop.
    public func committedSequence(on loop: any EventLoop) -> EventLoopFuture<UInt64> {
        loop.makeSucceededFuture(self.committedSequence())
    }

    /// Queues `message` for the next group commit; once the store is shut down, it fails at once.
    public func append(_ message: HistoryAppend) {
        let accepted = self.wakeCommitter { state in
            guard state.phase != .stopped else { return false }
            state.pending.append(message)
            return true
        }
        if !accepted {
            message.completion(.failure(StoreError("the history store is shut down")))
        }
    }

    /// A topic's page after `offset`, read on the readers' threads.
    public func messages(topic: String, after offset: UInt64, limit: Int, maxBytes: Int, on loop: any EventLoop) -> EventLoopFuture<[StoredMessage]> {
        self.read(on: loop) { try $0.messages(topic: topic, after: offset, limit: limit, maxBytes: maxBytes) }
    }

    /// A topic's page before `offset`, newest first, read on the readers' threads.
    public func messages(topic: String, before offset: UInt64, limit: Int, maxBytes: Int, on loop: any EventLoop) -> EventLoopFuture<[StoredMessage]> {
        self.read(on: loop) { try $0.messages(topic: topic, before: offset, limit: limit, maxBytes: maxBytes) }
    }

    /// A pattern replay page, read on the readers' threads.
    public func messages(
        matching patterns: [TopicPattern], afterSequence sequence: UInt64, through last: UInt64, newerThan timestamp: Int64?, limit: Int, maxBytes: Int,
        on loop: any EventLoop
    ) -> EventLoopFuture<[StoredMessage]> {
        self.read(on: loop) {
            try $0.messages(matching: patterns, afterSequence: sequence, through: last, newerThan: timestamp, limit: limit, maxBytes: maxBytes)
        }
    }

    /// Whether trimming may have taken what a pattern replay needs, read on the readers' threads.
    public func mayHaveTrimmed(matching patterns: [TopicPattern], newerThan timestamp: Int64, on loop: any EventLoop) -> EventLoopFuture<Bool> {
        self.read(on: loop) { try $0.mayHaveTrimmed(matching: patterns, newerThan: timestamp) }
    }

    /// Runs a blocking read of the backend on the readers' threads; the future completes on
    /// `loop`. A read asked for before ``run()`` waits for it; one after shutdown fails.
    private func read<Value: Sendable>(on loop: any EventLoop, _ body: @escaping @Sendable (any MessageStore) throws -> Value) -> EventLoopFuture<Value> {
        let backend = self.backend
        let readers = self.readers
        let submit: @Sendable () -> EventLoopFuture<Value> = { readers.runIfActive(eventLoop: loop) { try body(backend) } }
        let waiting: EventLoopPromise<Value>? = self.state.withLock { state in
            guard state.phase == .notStarted else { return nil }
            let promise = loop.makePromise(of: Value.self)
            state.readsBeforeRun.append { promise.completeWith(submit()) }
            return promise
        }
        return waiting?.futureResult ?? submit()
    }

    /// Makes `change` (false: refused), and starts the committer when the store runs and the
    /// committer is not already at work (it then sees the change).
    @discardableResult
    private func wakeCommitter(_ change: (inout State) -> Bool) -> Bool {
        let (accepted, mustStart) = self.state.withLock { state in
            guard change(&state) else { return (false, false) }
            guard state.phase == .running, !state.committing else { return (true, false) }
            state.committing = true
            return (true, true)
        }
        if mustStart {
            self.writer.submit { _ in self.commitUntilIdle() }
        }
        return accepted
    }

    private func commitUntilIdle() {
        while true {
            let (batch, committed, sequence, trim, waiters) = self.state.withLock { state in
                let batch = state.pending
                state.pending.removeAll(keepingCapacity: true)
                let trim = state.trimDue
                state.trimDue = false
                var waiters: [CheckedContinuation<Void, Never>] = []
                if batch.isEmpty, !trim {
                    state.committing = false
                    swap(&waiters, &state.idleWaiters)
                }
                // Only the batch's topics, so a commit costs the same however many topics there are.
                var committed: [String: TopicHistoryState] = [:]
                for append in batch { committed[append.message.envelope.topic] = state.topics[append.message.envelope.topic] }
                return (batch, committed, state.lastSequence, trim, waiters)
            }
            if !batch.isEmpty { self.commit(batch, committed: committed, lastSequence: sequence) }
            if trim { self.trimExpired() }
            if batch.isEmpty, !trim {
                for waiter in waiters { waiter.resume() }
                return
            }
        }
    }

    private func commit(_ batch: [HistoryAppend], committed: [String: TopicHistoryState], lastSequence: UInt64) {
        var positions: [String: TopicHistoryState] = [:]
        var newTopics: [String: String] = [:]
        var keep: [String: Int] = [:]
        var sequence = lastSequence
        var stored: [StoredMessage] = []
        stored.reserveCapacity(batch.count)
        for append in batch {
            let name = append.message.envelope.topic
            var position = positions[name] ?? committed[name] ?? TopicHistoryState(epoch: Self.makeEpoch(), lastOffset: 0)
            // A new topic, or an empty one whose epoch a subscriber already has.
            if position.lastOffset == 0 { newTopics[name] = position.epoch }
            position.lastOffset += 1
            positions[name] = position
            keep[name] = append.keep
            sequence += 1
            var envelope = append.message.envelope
            envelope.offset = position.lastOffset
            envelope.epoch = position.epoch
            stored.append(StoredMessage(envelope: envelope, sequence: sequence))
        }
        let outcome: HistoryCommit
        do {
            try self.backend.append(
                AppendBatch(messages: stored, newTopics: newTopics, lastOffsets: positions.mapValues(\.lastOffset), keep: keep)
            )
            outcome = .committed(
                zip(stored, batch).map { stored, append in
                    var message = append.message
                    message.envelope = stored.envelope
                    message.storeSequence = stored.sequence
                    return message
                }
            )
        } catch {
            outcome = .failed(error as? StoreError ?? StoreError("\(error)"), count: batch.count)
        }
        let onCommit = self.state.withLock { state in
            if case .committed = outcome {
                for (name, position) in positions {
                    if state.topics[name]?.lastOffset == 0 { state.emptyTopics -= 1 }
                    state.topics[name] = position
                }
                state.lastSequence = sequence
            }
            return state.onCommit
        }
        // Acknowledge first, so a publisher usually has its ack before its own message.
        switch outcome {
        case .committed:
            for (message, append) in zip(stored, batch) { append.completion(.success(message)) }
        case .failed(let error, _):
            for append in batch { append.completion(.failure(error)) }
        }
        onCommit?(outcome)
    }

    /// A short random token; a new one marks history that cannot continue the old offsets.
    static func makeEpoch() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<8).map { _ in alphabet.randomElement()! })
    }
}

extension GroupCommitStore {
    /// Often enough that no message outlives its TTL by more than about a quarter of it
    /// (between 250 ms and 30 s); nil without TTLs.
    private var trimInterval: Duration? {
        guard let shortest = self.ttls.values.min() else { return nil }
        return max(.milliseconds(250), min(.seconds(30), shortest / 4))
    }

    /// Asks the committer to trim expired messages, between two commits.
    package func trimSoon() {
        self.wakeCommitter { state in
            state.trimDue = true
            return true
        }
    }

    /// On the committer, between commits: trims each namespace with a TTL in the backend, and
    /// forgets the topics left empty, so a publish to one of them starts a new epoch.
    private func trimExpired() {
        let now = WallClock.milliseconds()
        for (namespace, ttl) in self.ttls {
            do {
                let forgotten = try self.backend.trim(namespace: namespace, olderThan: now - Self.milliseconds(ttl))
                // In slices, so readers of the committed state never wait long for the lock.
                for start in stride(from: 0, to: forgotten.count, by: 1024) {
                    self.state.withLock { state in
                        for name in forgotten[start..<min(forgotten.count, start + 1024)] { state.topics[name] = nil }
                    }
                }
            } catch {
                self.logger.warning("history trimming failed", metadata: ["namespace": "\(namespace)", "error": "\(error)"])
            }
        }
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }
}
