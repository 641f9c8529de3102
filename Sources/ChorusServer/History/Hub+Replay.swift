import ChorusCore
import NIOCore

/// What WebSocket and SSE replays share: page bounds, which stored messages a client may be
/// replayed, and whether a pattern replay can be complete. All of it runs on the history
/// readers' pool, never on an event loop.
extension Hub {
    /// Data bytes one replay page reads at most (and at least one message).
    static let replayPageBytes = 256 << 10
    /// Messages one pattern replay page reads at most.
    static let replayPageCount = 1000

    /// Messages per page of a topic replay, which the store bounds by count only: as many of
    /// the largest messages a publish may carry as fit in ``replayPageBytes``.
    var topicReplayPageCount: Int {
        min(256, max(1, Self.replayPageBytes / max(1, self.configuration.maxPublishSize)))
    }

    /// The next page of a pattern replay after `sequence`, up to `last`, with the messages the
    /// client may not be replayed (a namespace without history, a topic it may not read) left
    /// out; `cursor` is the last sequence the store returned, so the next page starts after it.
    func replayPage(
        _ store: any MessageStore,
        matching patterns: [TopicPattern],
        access: TopicAccess?,
        after sequence: UInt64,
        through last: UInt64,
        newerThan timestamp: Int64?
    ) throws -> ReplayPage {
        let page = try store.messages(
            matching: patterns, afterSequence: sequence, through: last, newerThan: timestamp, limit: Self.replayPageCount, maxBytes: Self.replayPageBytes
        )
        let messages = page.filter { message in
            guard let topic = try? Topic(message.topic) else { return false }
            return self.historySize(of: topic) != nil && access.mayRead(topic)
        }
        let cursor = page.last?.sequence ?? last
        return ReplayPage(messages: messages, cursor: cursor, exhausted: cursor >= last)
    }

    /// Whether a history topic that `pattern` matches may have lost messages newer than
    /// `timestamp` to trimming: its oldest message kept is newer than that and is not its first.
    ///
    /// One question per topic: the store's own `mayHaveTrimmed(matching:newerThan:)` replaces
    /// this walk once it has one.
    func mayHaveTrimmed(_ store: any MessageStore, matching pattern: TopicPattern, newerThan timestamp: Int64) throws -> Bool {
        guard let history = self.history else { return false }
        for name in history.committedTopics().keys {
            guard let topic = try? Topic(name), pattern.matches(topic), self.historySize(of: topic) != nil else { continue }
            if let oldest = try store.messages(topic: name, after: 0, limit: 1).first, oldest.offset > 1, oldest.envelope.timestamp > timestamp {
                return true
            }
        }
        return false
    }
}
