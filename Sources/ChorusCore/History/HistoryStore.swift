public import NIOCore
public import ServiceLifecycle

/// Where topics that keep history are stored, and the only place their offsets and epochs come
/// from: a store assigns them as it commits, so two writers can never hand out the same offset.
///
/// Appends never block: a store commits many of them at a time (group commit) and calls back
/// once they are durable. Its background work (committer, readers, trimming) runs while it runs
/// as a `Service`; graceful shutdown commits what it accepted, and later appends fail.
///
/// Everything a hub asks of it answers with a future, so the store may live across the network
/// (a cluster's): positions and pages complete on the loop given. `GroupCommitStore`
/// (ChorusServer) implements it over a synchronous ``MessageStore`` (SQLite, memory): positions
/// at once, pages on its reader threads.
public protocol HistoryStore: Service {
    /// Queues `message` for the next commit and returns at once. Its completion is called once
    /// the batch holding it is committed (or failed); completions of a batch are called in
    /// offset order, before the batch goes to the handler set by ``onCommit(_:)``.
    func append(_ message: HistoryAppend)

    /// Sets what gets every batch once committed (or failed), in commit order: the hub's route to
    /// its broker. The hub using the store sets it, once, before it runs.
    func onCommit(_ handler: @escaping @Sendable (HistoryCommit) -> Void)

    /// True when the store hands what it commits to the broker itself, as part of the commit (a
    /// cluster store whose commit also publishes, so every node delivers in one order): the hub
    /// then only counts and logs commits, and never publishes them again.
    var publishesCommits: Bool { get }

    /// Where `topic` stands and the newest committed sequence, read together: the topic's
    /// messages up to its offset are exactly its messages up to that sequence.
    func committedPosition(of topic: String, on loop: any EventLoop) -> EventLoopFuture<HistoryPosition>

    /// Where `topic` stands for a new subscriber: its committed position, except that a topic
    /// with no message yet is given its epoch now (at offset 0), so the subscriber can resume
    /// from there and recover the topic's first messages. The store holds that epoch until the
    /// first message; forgetting it before is safe (a client resuming from it is then told
    /// `recovered: false`).
    func subscriberPosition(of topic: String, on loop: any EventLoop) -> EventLoopFuture<HistoryPosition>

    /// The sequence of the newest committed message, across all topics.
    func committedSequence(on loop: any EventLoop) -> EventLoopFuture<UInt64>

    /// Messages of `topic` with offset greater than `offset`, oldest first: at most `limit`,
    /// and none after the one that brings their data to `maxBytes` (`Int.max`: count only).
    func messages(topic: String, after offset: UInt64, limit: Int, maxBytes: Int, on loop: any EventLoop) -> EventLoopFuture<[StoredMessage]>

    /// Messages of `topic` with offset less than `offset`, newest first, bounded as
    /// ``messages(topic:after:limit:maxBytes:on:)``.
    func messages(topic: String, before offset: UInt64, limit: Int, maxBytes: Int, on loop: any EventLoop) -> EventLoopFuture<[StoredMessage]>

    /// One page of a pattern replay, as ``MessageStore/messages(matching:afterSequence:through:newerThan:limit:maxBytes:)``.
    func messages(
        matching patterns: [TopicPattern],
        afterSequence sequence: UInt64,
        through last: UInt64,
        newerThan timestamp: Int64?,
        limit: Int,
        maxBytes: Int,
        on loop: any EventLoop
    ) -> EventLoopFuture<[StoredMessage]>

    /// Whether a replay of `patterns` since `timestamp` may be incomplete, as
    /// ``MessageStore/mayHaveTrimmed(matching:newerThan:)``.
    func mayHaveTrimmed(matching patterns: [TopicPattern], newerThan timestamp: Int64, on loop: any EventLoop) -> EventLoopFuture<Bool>
}

extension HistoryStore {
    /// The hub publishes what the store commits.
    public var publishesCommits: Bool { false }

    /// A store that cannot hold an epoch for an empty topic answers its committed position: a
    /// subscriber to an empty topic then has nothing to resume from.
    public func subscriberPosition(of topic: String, on loop: any EventLoop) -> EventLoopFuture<HistoryPosition> {
        self.committedPosition(of: topic, on: loop)
    }
}

/// Where a topic stands in a store, and the store's newest committed sequence, read together.
public struct HistoryPosition: Sendable, Equatable {
    /// The topic's epoch and newest offset; nil when it has no history.
    public var state: TopicHistoryState?
    /// The newest committed sequence, across all topics: a subscriber's recovery floor.
    public var sequence: UInt64

    /// `state` at `sequence`.
    public init(state: TopicHistoryState?, sequence: UInt64) {
        self.state = state
        self.sequence = sequence
    }
}

/// One message to store: a topic message without its offset, epoch or sequence (the store
/// assigns them), how many messages its topic keeps, and who waits for it.
public struct HistoryAppend: Sendable {
    /// The message, its target a topic; the store fills in offset, epoch and sequence.
    public var message: BrokerMessage
    /// Messages the topic keeps (its namespace's history size); older ones are trimmed.
    public var keep: Int
    /// Gets the message as stored (offset, epoch, sequence), or why it was not.
    public var completion: @Sendable (Result<StoredMessage, StoreError>) -> Void

    /// A message to store, keeping `keep` messages of its topic; `completion` gets the result.
    public init(message: BrokerMessage, keep: Int, completion: @escaping @Sendable (Result<StoredMessage, StoreError>) -> Void) {
        self.message = message
        self.keep = keep
        self.completion = completion
    }
}

/// What became of one commit.
public enum HistoryCommit: Sendable {
    /// The batch's messages, stored, in offset order: offset, epoch and store sequence set.
    case committed([BrokerMessage])
    /// The store failed the whole batch of `count` messages; none of them is delivered.
    case failed(StoreError, count: Int)
}
