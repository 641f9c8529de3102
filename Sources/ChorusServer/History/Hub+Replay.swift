import ChorusCore
import NIOCore

/// What WebSocket and SSE replays share: page bounds, which stored messages a client may be
/// replayed, and the positions they start from, read once the broker brings this node the
/// messages they gate.
extension Hub {
    /// Data bytes one replay page reads at most (and at least one message).
    static let replayPageBytes = 256 << 10
    /// Messages one pattern replay page reads at most.
    static let replayPageCount = 1000
    /// Store sequences one pattern replay page looks through at most.
    static let replayScanWindow: UInt64 = 10_000

    /// Messages per page of a topic replay, which the store bounds by count only: as many of
    /// the largest messages a publish may carry as fit in ``replayPageBytes``.
    var topicReplayPageCount: Int {
        min(256, max(1, Self.replayPageBytes / max(1, self.configuration.maxPublishSize)))
    }

    /// The next page of a pattern replay after `sequence`, up to `last`, with the messages the
    /// client may not be replayed (a namespace without history, a topic it may not read) left
    /// out; `cursor` is the last sequence the store returned, so the next page starts after it.
    func replayPage(
        _ history: any HistoryStore,
        matching patterns: [TopicPattern],
        access: TopicAccess?,
        after sequence: UInt64,
        through last: UInt64,
        newerThan timestamp: Int64?,
        on loop: any EventLoop
    ) -> EventLoopFuture<ReplayPage> {
        // A page looks at no more than a window of sequences, so a pattern that matches few
        // stored messages (or none) costs many short queries rather than one long scan.
        let through = min(last, sequence + Self.replayScanWindow)
        return history.messages(
            matching: patterns, afterSequence: sequence, through: through, newerThan: timestamp, limit: Self.replayPageCount, maxBytes: Self.replayPageBytes,
            on: loop
        ).map { page in
            let messages = page.filter { message in
                guard let topic = try? Topic(message.topic) else { return false }
                return self.historySize(of: topic) != nil && access.mayRead(topic)
            }
            let bytes = page.reduce(0) { $0 + $1.envelope.data.readableBytes }
            let full = page.count >= Self.replayPageCount || bytes >= Self.replayPageBytes
            let cursor = full ? page.last?.sequence ?? through : through
            return ReplayPage(messages: messages, cursor: cursor, exhausted: cursor >= last)
        }
    }

    /// `topic`'s position in `history` for a subscriber (an empty topic gets its epoch), read
    /// once the broker brings this node its messages: a message committed later arrives live,
    /// past the position's sequence.
    func subscriberPosition(of topic: Topic, in history: any HistoryStore, on loop: any EventLoop) -> EventLoopFuture<HistoryPosition> {
        self.interests.ready(BrokerInterest(TopicPattern(topic)), on: loop).flatMap {
            history.subscriberPosition(of: topic.name, on: loop)
        }
    }

    /// The store's newest committed sequence, read once the broker brings this node the
    /// messages of every one of `patterns`.
    func committedSequence(for patterns: [TopicPattern], in history: any HistoryStore, on loop: any EventLoop) -> EventLoopFuture<UInt64> {
        let ready = patterns.map { self.interests.ready(BrokerInterest($0), on: loop) }
        return EventLoopFuture.andAllSucceed(ready, on: loop).flatMap {
            history.committedSequence(on: loop)
        }
    }
}
