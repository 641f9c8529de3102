public import NIOCore
public import ServiceLifecycle

/// Where topics that keep history are stored, and the only place their offsets and epochs come
/// from: a store assigns them as it commits, so two writers can never hand out the same offset.
///
/// Appends never block: a store commits many of them at a time (group commit) and calls back
/// once they are durable. Its background work (committer, readers, trimming) runs while it runs
/// as a `Service`; graceful shutdown commits what it accepted, and later appends fail.
///
/// `GroupCommitStore` (ChorusServer) implements it over a synchronous ``MessageStore`` (SQLite, memory).
public protocol HistoryStore: Service {
    /// Queues `message` for the next commit and returns at once. Its completion is called once
    /// the batch holding it is committed (or failed); completions of a batch are called in
    /// offset order, before the batch goes to the handler set by ``onCommit(_:)``.
    func append(_ message: HistoryAppend)

    /// Sets what gets every batch once committed (or failed), in commit order: the hub's route to
    /// its broker. The hub using the store sets it, once, before it runs.
    func onCommit(_ handler: @escaping @Sendable (HistoryCommit) -> Void)

    /// Where `topic` stands and the newest committed sequence, read together and without
    /// blocking: the topic's messages up to its offset are exactly its messages up to that
    /// sequence.
    func committedPosition(of topic: String) -> (state: TopicHistoryState?, sequence: UInt64)

    /// The sequence of the newest committed message, across all topics, without blocking.
    func committedSequence() -> UInt64

    /// Runs a blocking read off the event loops; the future completes on `loop` (and fails when
    /// the store is not running).
    func read<Value: Sendable>(on loop: any EventLoop, _ body: @escaping @Sendable (any MessageStore) throws -> Value) -> EventLoopFuture<Value>
}

extension HistoryStore {
    /// Where `topic` stands now, as far as committed messages go.
    public func committedState(of topic: String) -> TopicHistoryState? {
        self.committedPosition(of: topic).state
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
