import NIOCore

/// Durable (or not) message history, synchronously: the backend of a `GroupCommitStore` (ChorusServer), and
/// what `subscribe` with `since` and the history API read.
///
/// Calls may block on I/O: they are made from the `GroupCommitStore` (ChorusServer)'s committer thread and
/// reader pool, never from an event loop. Offsets are assigned by that committer, one per
/// backend, so the backend only has to keep them.
public protocol MessageStore: Sendable {
    /// Every topic that has history, with its epoch and newest offset, and the newest sequence
    /// (read once at start).
    func loadSnapshot() throws -> StoreSnapshot

    /// Appends `batch` in one durable step: when this returns, the messages survive a crash
    /// (within the store's configured sync mode).
    func append(_ batch: AppendBatch) throws

    /// Messages of `topic` with offset greater than `offset`, oldest first, at most `limit`.
    func messages(topic: String, after offset: UInt64, limit: Int) throws -> [StoredMessage]

    /// Messages of `topic` with offset less than `offset`, newest first, at most `limit` (the
    /// last ones of a topic: `offset` past its newest).
    func messages(topic: String, before offset: UInt64, limit: Int) throws -> [StoredMessage]

    /// One page of a pattern replay: messages of the topics any of `patterns` matches, with a
    /// sequence greater than `sequence` and at most `last`, and (when given) `ts` greater than
    /// `timestamp`, in commit order; at most `limit` of them, and none past the one that brings
    /// their data to `maxBytes`. One bounded query, whatever the number of topics: the next
    /// page starts after the last sequence returned.
    func messages(
        matching patterns: [TopicPattern],
        afterSequence sequence: UInt64,
        through last: UInt64,
        newerThan timestamp: Int64?,
        limit: Int,
        maxBytes: Int
    ) throws -> [StoredMessage]

    /// Removes the messages of `namespace`'s topics older than `timestamp`, and forgets the
    /// topics left without messages (a later publish starts them in a new epoch); returns the
    /// topics forgotten.
    ///
    /// Called by the single committer, in order with its appends, so a topic is never forgotten
    /// while a commit to it is under way.
    func trim(namespace: String, olderThan timestamp: Int64) throws -> [String]

    /// Whether a topic that any of `patterns` matches, forgotten or not, lost to trimming (TTL
    /// or history size) a message newer than `timestamp`: a replay of those patterns since
    /// `timestamp` is then incomplete. Forgotten topics count per namespace, so the answer may
    /// be true for a pattern that matched none of them, never false when one did.
    func mayHaveTrimmed(matching patterns: [TopicPattern], newerThan timestamp: Int64) throws -> Bool

    /// Leaves what the store keeps complete and releases its files, once the hub has stopped
    /// using it: done at shutdown, not whenever the store object goes away (the process may
    /// end first). Nothing to do for a store without files.
    func close() throws
}

extension MessageStore {
    /// Nothing to release: a store without files or connections.
    public func close() throws {}
}

/// What a store holds, in brief.
public struct StoreSnapshot: Sendable {
    /// Every topic with history: its epoch and newest offset.
    public var topics: [String: TopicHistoryState]
    /// The newest sequence the store holds (0: none).
    public var lastSequence: UInt64

    /// A snapshot of `topics` and `lastSequence`.
    public init(topics: [String: TopicHistoryState], lastSequence: UInt64) {
        self.topics = topics
        self.lastSequence = lastSequence
    }
}

/// One group commit: the messages, the epochs of topics they start, and how many messages each
/// touched topic keeps.
public struct AppendBatch: Sendable {
    /// The messages, in commit order, with their offsets and sequences assigned.
    public var messages: [StoredMessage]
    /// Topics seen for the first time in this batch (or whose history was reset), with their epoch.
    public var newTopics: [String: String]
    /// Per touched topic, its newest offset after the batch.
    public var lastOffsets: [String: UInt64]
    /// Per touched topic, how many messages to keep (history size).
    public var keep: [String: Int]

    /// A batch of `messages` and what it changes in each touched topic.
    public init(messages: [StoredMessage], newTopics: [String: String], lastOffsets: [String: UInt64], keep: [String: Int]) {
        self.messages = messages
        self.newTopics = newTopics
        self.lastOffsets = lastOffsets
        self.keep = keep
    }
}

/// A failure of the store; `message` says what, for the logs and an `internal` error.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// What failed.
    public let message: String

    /// An error saying `message`.
    public init(_ message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { self.message }
}

extension MessageStore {
    /// Messages of `topic` after `offset`, oldest first: at most `limit`, and none after the one
    /// that brings their data to `maxBytes` (`Int.max`: count only, one read).
    public func messages(topic: String, after offset: UInt64, limit: Int, maxBytes: Int) throws -> [StoredMessage] {
        try Self.page(from: offset, limit: limit, maxBytes: maxBytes) { try self.messages(topic: topic, after: $0, limit: $1) }
    }

    /// Messages of `topic` before `offset`, newest first, bounded as ``messages(topic:after:limit:maxBytes:)``.
    public func messages(topic: String, before offset: UInt64, limit: Int, maxBytes: Int) throws -> [StoredMessage] {
        try Self.page(from: offset, limit: limit, maxBytes: maxBytes) { try self.messages(topic: topic, before: $0, limit: $1) }
    }

    /// Reads a page in small chunks from `start`, each continuing from the last offset read, so
    /// a page of large messages stops at `maxBytes` without reading the rest.
    private static func page(
        from start: UInt64, limit: Int, maxBytes: Int, chunk read: (_ cursor: UInt64, _ count: Int) throws -> [StoredMessage]
    ) throws -> [StoredMessage] {
        var page: [StoredMessage] = []
        var bytes = 0
        var cursor = start
        while page.count < limit, bytes < maxBytes {
            let wanted = maxBytes == .max ? limit - page.count : min(32, limit - page.count)
            let chunk = try read(cursor, wanted)
            for message in chunk where bytes < maxBytes {
                page.append(message)
                bytes += message.envelope.data.readableBytes
            }
            guard chunk.count == wanted, let last = chunk.last else { break }
            cursor = last.offset
        }
        return page
    }
}
