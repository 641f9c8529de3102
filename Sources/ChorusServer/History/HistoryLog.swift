import ChorusCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The single writer of history: assigns each message of a history topic its offset, commits
/// many publishes per store transaction (group commit), and only then acknowledges them and
/// hands them to fan-out, in offset order.
///
/// Publishes queue in a locked inbox; one job at a time on a dedicated thread drains it, so a
/// burst of publishes shares one commit, and offsets, commits and deliveries stay in one order.
final class HistoryLog: Sendable {
    struct Pending: Sendable {
        var envelope: MessageEnvelope
        var topic: Topic
        var keep: Int
        var excludedConnection: UInt64?
        var completion: @Sendable (Result<Hub.Receipt, ProtocolError>) -> Void
    }

    private struct State {
        var pending: [Pending] = []
        /// Expired messages are due to be trimmed, between two commits.
        var trimDue = false
        var committing = false
        /// Committed positions: what readers may rely on.
        var topics: [String: TopicHistoryState]
        var lastSequence: UInt64
    }

    let store: any MessageStore
    private let state: NIOLockedValueBox<State>
    private let writer: NIOThreadPool
    /// Reads (recovery, the history API) run here, off the event loops and the writer, which also trims.
    let readers: NIOThreadPool
    private let trimming = NIOLockedValueBox<(task: RepeatedTask, loop: any EventLoop, ttls: [String: Duration])?>(nil)
    private let deliver: @Sendable ([(StoredMessage, excluded: UInt64?)]) -> Void
    private let metrics: HubMetrics
    private let logger: Logger

    init(store: any MessageStore, metrics: HubMetrics, logger: Logger, deliver: @escaping @Sendable ([(StoredMessage, excluded: UInt64?)]) -> Void) throws {
        let snapshot = try store.loadSnapshot()
        self.store = store
        self.state = NIOLockedValueBox(State(topics: snapshot.topics, lastSequence: snapshot.lastSequence))
        self.metrics = metrics
        self.logger = logger
        self.deliver = deliver
        self.writer = NIOThreadPool(numberOfThreads: 1)
        self.readers = NIOThreadPool(numberOfThreads: 2)
        self.writer.start()
        self.readers.start()
    }

    func shutdown() async {
        let trimming = self.trimming.withLockedValue { $0 }
        if let trimming {
            let cancelled = trimming.loop.makePromise(of: Void.self)
            trimming.task.cancel(promise: cancelled)
            try? await cancelled.futureResult.get()
        }
        try? await self.writer.shutdownGracefully()
        try? await self.readers.shutdownGracefully()
    }

    /// Where `topic` stands now, as far as committed messages go.
    func committedState(of topic: String) -> TopicHistoryState? {
        self.state.withLockedValue { $0.topics[topic] }
    }

    /// Where `topic` stands and the newest committed sequence, read together: the topic's
    /// messages up to its offset are exactly its messages up to that sequence.
    func committedPosition(of topic: String) -> (state: TopicHistoryState?, sequence: UInt64) {
        self.state.withLockedValue { ($0.topics[topic], $0.lastSequence) }
    }

    /// The sequence of the newest committed message, across all topics.
    func committedSequence() -> UInt64 {
        self.state.withLockedValue { $0.lastSequence }
    }

    func append(_ pending: Pending) {
        self.wakeWriter { $0.pending.append(pending) }
    }

    /// Makes `change`, and starts the writer unless it is already at work (it then sees the change).
    private func wakeWriter(_ change: (inout State) -> Void) {
        let mustStart = self.state.withLockedValue { state in
            change(&state)
            defer { state.committing = true }
            return !state.committing
        }
        if mustStart {
            self.writer.submit { _ in self.commitUntilIdle() }
        }
    }

    private func commitUntilIdle() {
        while true {
            let (batch, committed, sequence, trim) = self.state.withLockedValue { state in
                let batch = state.pending
                state.pending.removeAll(keepingCapacity: true)
                let trim = state.trimDue
                state.trimDue = false
                if batch.isEmpty, !trim { state.committing = false }
                // Only the batch's topics, so a commit costs the same however many topics there are.
                var committed: [String: TopicHistoryState] = [:]
                for pending in batch { committed[pending.topic.name] = state.topics[pending.topic.name] }
                return (batch, committed, state.lastSequence, trim)
            }
            if !batch.isEmpty { self.commit(batch, committed: committed, lastSequence: sequence) }
            if trim { self.trimExpired() }
            if batch.isEmpty, !trim { return }
        }
    }

    private func commit(_ batch: [Pending], committed: [String: TopicHistoryState], lastSequence: UInt64) {
        var positions: [String: TopicHistoryState] = [:]
        var newTopics: [String: String] = [:]
        var keep: [String: Int] = [:]
        var sequence = lastSequence
        var stored: [StoredMessage] = []
        stored.reserveCapacity(batch.count)
        for pending in batch {
            let name = pending.topic.name
            var position = positions[name] ?? committed[name] ?? {
                let epoch = Self.makeEpoch()
                newTopics[name] = epoch
                return TopicHistoryState(epoch: epoch, lastOffset: 0)
            }()
            position.lastOffset += 1
            positions[name] = position
            keep[name] = pending.keep
            sequence += 1
            var envelope = pending.envelope
            envelope.offset = position.lastOffset
            envelope.epoch = position.epoch
            stored.append(StoredMessage(envelope: envelope, sequence: sequence))
        }
        do {
            try self.store.append(
                AppendBatch(messages: stored, newTopics: newTopics, lastOffsets: positions.mapValues(\.lastOffset), keep: keep)
            )
        } catch {
            self.metrics.storeFailed()
            self.logger.error("history store write failed", metadata: ["error": "\(error)", "messages": "\(batch.count)"])
            let failure = ProtocolError(.internal, "the message could not be stored: \(error)")
            for pending in batch { pending.completion(.failure(failure)) }
            return
        }
        self.state.withLockedValue { state in
            for (name, position) in positions { state.topics[name] = position }
            state.lastSequence = sequence
        }
        self.metrics.committed(batchSize: batch.count)
        // Acknowledge first, so a publisher usually has its ack before its own message.
        for (message, pending) in zip(stored, batch) {
            pending.completion(.success(Hub.Receipt(messageID: message.envelope.messageID, offset: message.offset, epoch: message.envelope.epoch)))
        }
        self.deliver(zip(stored, batch).map { ($0, excluded: $1.excludedConnection) })
    }

    /// Runs a blocking store read off the event loops; the future completes on `loop`.
    func read<Value: Sendable>(on loop: any EventLoop, _ body: @escaping @Sendable (any MessageStore) throws -> Value) -> EventLoopFuture<Value> {
        let store = self.store
        return self.readers.runIfActive(eventLoop: loop) { try body(store) }
    }

    /// Trims messages past their namespace's TTL, in the background, often enough that none
    /// outlives its TTL by more than about a quarter of it (between 250 ms and 30 s).
    func startTrimming(ttls: [String: Duration], on loop: any EventLoop) {
        guard let shortest = ttls.values.min() else { return }
        let interval = TimeAmount.milliseconds(max(250, min(30_000, Self.milliseconds(shortest) / 4)))
        let task = loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            self.wakeWriter { $0.trimDue = true }
        }
        self.trimming.withLockedValue { $0 = (task, loop, ttls) }
    }

    /// On the writer, between commits: trims each namespace with a TTL in the store, and forgets
    /// the topics left empty, so a publish to one of them starts a new epoch.
    private func trimExpired() {
        guard let ttls = self.trimming.withLockedValue({ $0?.ttls }) else { return }
        let now = WallClock.milliseconds()
        for (namespace, ttl) in ttls {
            do {
                let forgotten = try self.store.trim(namespace: namespace, olderThan: now - Self.milliseconds(ttl))
                // In slices, so readers of the committed state never wait long for the lock.
                for start in stride(from: 0, to: forgotten.count, by: 1024) {
                    self.state.withLockedValue { state in
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

    /// A short random token; a new one marks history that cannot continue the old offsets.
    static func makeEpoch() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<8).map { _ in alphabet.randomElement()! })
    }
}
