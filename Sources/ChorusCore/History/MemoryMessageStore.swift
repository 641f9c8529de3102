import NIOCore
import Synchronization

/// History in memory: for tests and setups that accept losing history on restart (every topic
/// then starts a new epoch, so clients are told `recovered: false`).
public final class MemoryMessageStore: MessageStore {
    private struct TopicLog {
        var state: TopicHistoryState
        var messages: [StoredMessage] = []
        /// The newest timestamp among the messages trimmed away.
        var trimmedTimestamp = Int64.min

        mutating func trim(while condition: (StoredMessage) -> Bool) {
            let count = self.messages.prefix(while: condition).count
            guard count > 0 else { return }
            self.trimmedTimestamp = self.messages[..<count].reduce(self.trimmedTimestamp) { max($0, $1.envelope.timestamp) }
            self.messages.removeFirst(count)
        }
    }

    private let topics = Mutex([String: TopicLog]())
    /// Per namespace, the newest timestamp trimmed from a topic since forgotten.
    private let forgotten = Mutex([String: Int64]())
    private let lastSequence = Mutex(UInt64(0))

    /// An empty store.
    public init() {}

    /// See ``MessageStore/loadSnapshot()``.
    public func loadSnapshot() throws -> StoreSnapshot {
        StoreSnapshot(topics: self.topics.withLock { $0.mapValues(\.state) }, lastSequence: self.lastSequence.withLock { $0 })
    }

    /// See ``MessageStore/append(_:)``.
    public func append(_ batch: AppendBatch) throws {
        if let last = batch.messages.last?.sequence {
            self.lastSequence.withLock { $0 = max($0, last) }
        }
        self.topics.withLock { topics in
            for (topic, epoch) in batch.newTopics {
                topics[topic] = TopicLog(state: TopicHistoryState(epoch: epoch, lastOffset: 0))
            }
            for message in batch.messages {
                topics[message.topic]?.messages.append(message)
            }
            for (topic, offset) in batch.lastOffsets {
                topics[topic]?.state.lastOffset = offset
            }
            for (topic, keep) in batch.keep {
                guard let count = topics[topic]?.messages.count, count > keep else { continue }
                var excess = count - keep
                topics[topic]?.trim { _ in
                    defer { excess -= 1 }
                    return excess > 0
                }
            }
        }
    }

    /// See ``MessageStore/messages(topic:after:limit:)``.
    public func messages(topic: String, after offset: UInt64, limit: Int) throws -> [StoredMessage] {
        self.topics.withLock { topics in
            guard let log = topics[topic] else { return [] }
            // Offsets are consecutive, so the position is arithmetic.
            guard let first = log.messages.first?.offset else { return [] }
            let start = offset < first ? 0 : Int(offset - first + 1)
            guard start < log.messages.count else { return [] }
            return Array(log.messages[start..<min(log.messages.count, start + limit)])
        }
    }

    /// See ``MessageStore/messages(topic:before:limit:)``.
    public func messages(topic: String, before offset: UInt64, limit: Int) throws -> [StoredMessage] {
        self.topics.withLock { topics in
            guard let log = topics[topic], let first = log.messages.first?.offset, offset > first else { return [] }
            // Offsets are consecutive: everything before `offset` ends at this index.
            let end = min(log.messages.count, Int(clamping: offset - first))
            return Array(log.messages[max(0, end - limit)..<end].reversed())
        }
    }

    /// See ``MessageStore/messages(matching:afterSequence:through:newerThan:limit:maxBytes:)``.
    public func messages(
        matching patterns: [TopicPattern],
        afterSequence sequence: UInt64,
        through last: UInt64,
        newerThan timestamp: Int64?,
        limit: Int,
        maxBytes: Int
    ) throws -> [StoredMessage] {
        let found = self.topics.withLock { topics in
            topics.flatMap { name, log -> [StoredMessage] in
                guard let topic = try? Topic(name), patterns.contains(where: { $0.matches(topic) }) else { return [] }
                return log.messages.filter { $0.sequence > sequence && $0.sequence <= last && $0.envelope.timestamp > timestamp ?? .min }
            }
        }
        return found.sorted { $0.sequence < $1.sequence }.prefix(limit).prefix(bytes: maxBytes)
    }

    /// See ``MessageStore/trim(namespace:olderThan:)``.
    public func trim(namespace: String, olderThan timestamp: Int64) throws -> [String] {
        self.topics.withLock { topics in
            var forgotten: [String] = []
            for name in topics.keys.filter({ Topic(validatedName: $0).namespace == namespace }) {
                // Timestamps follow offsets within a topic, and offsets must stay consecutive.
                topics[name]?.trim { $0.envelope.timestamp < timestamp }
                guard let log = topics[name], log.messages.isEmpty else { continue }
                topics[name] = nil
                forgotten.append(name)
                self.forgotten.withLock { $0[namespace] = max($0[namespace] ?? .min, log.trimmedTimestamp) }
            }
            return forgotten
        }
    }

    /// See ``MessageStore/mayHaveTrimmed(matching:newerThan:)``.
    public func mayHaveTrimmed(matching patterns: [TopicPattern], newerThan timestamp: Int64) throws -> Bool {
        let forgotten = self.forgotten.withLock { forgotten in
            patterns.contains { pattern in
                if let namespace = pattern.namespace { return (forgotten[String(namespace)] ?? .min) > timestamp }
                return forgotten.values.contains { $0 > timestamp }
            }
        }
        return forgotten || self.topics.withLock { topics in
            topics.contains { name, log in
                log.trimmedTimestamp > timestamp && patterns.contains { $0.matches(Topic(validatedName: name)) }
            }
        }
    }
}

extension Collection<StoredMessage> {
    /// The leading messages up to and including the one whose data reaches `maxBytes`.
    package func prefix(bytes maxBytes: Int) -> [StoredMessage] {
        var total = 0
        var page: [StoredMessage] = []
        for message in self where total < maxBytes {
            total += message.envelope.data.readableBytes
            page.append(message)
        }
        return page
    }
}
