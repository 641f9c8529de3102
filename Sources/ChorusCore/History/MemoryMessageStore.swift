import NIOCore
import Synchronization

/// History in memory: for tests and setups that accept losing history on restart (every topic
/// then starts a new epoch, so clients are told `recovered: false`).
public final class MemoryMessageStore: MessageStore {
    private struct TopicLog {
        var state: TopicHistoryState
        var messages: [StoredMessage] = []
    }

    private let topics = Mutex([String: TopicLog]())
    private let lastSequence = Mutex(UInt64(0))

    public init() {}

    public func loadSnapshot() throws -> StoreSnapshot {
        StoreSnapshot(topics: self.topics.withLock { $0.mapValues(\.state) }, lastSequence: self.lastSequence.withLock { $0 })
    }

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
                topics[topic]?.messages.removeFirst(count - keep)
            }
        }
    }

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

    public func trim(topics names: [String], olderThan timestamp: Int64) throws -> Int {
        self.topics.withLock { topics in
            var removed = 0
            for name in names {
                guard let before = topics[name]?.messages.count else { continue }
                topics[name]?.messages.removeAll { $0.envelope.timestamp < timestamp }
                removed += before - (topics[name]?.messages.count ?? 0)
            }
            return removed
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
