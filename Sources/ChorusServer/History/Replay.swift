import ChorusCore
import NIOCore

/// One replay of history to a connection, as its ``RecoveryGate`` keeps it between pages.
struct Replay {
    /// Reads the page after a cursor from the store, answering on the loop given; the first page
    /// also tells whether the replay is complete.
    let read: (_ history: any HistoryStore, _ cursor: UInt64, _ first: Bool, _ loop: any EventLoop) -> EventLoopFuture<ReplayPage>
    let initialCursor: UInt64
    /// The `sub` of a replayed message, from its topic.
    let sub: (String) -> String?
    /// The encoded answer (WebSocket `subscribed`), sent once the first page tells whether the
    /// replay is complete; `recovered` is its argument.
    let answer: ((_ recovered: Bool) -> ByteBuffer)?
    /// An incomplete pattern replay still sends what history kept; a topic's sends nothing.
    let sendsPartial: Bool
}

/// One page of a replay, as read from the store.
struct ReplayPage: Sendable {
    var messages: [StoredMessage]
    /// Where the next page starts (an offset for a topic, a store sequence for patterns).
    var cursor: UInt64
    var exhausted: Bool
    /// Set on the first page only.
    var complete: Bool?
    /// History trimming overtook the replay between two pages: what follows would have a gap.
    var overtaken = false
}

extension Replay {
    /// A replay of every history topic that `patterns` match, in commit order after store
    /// sequence `sequence` and up to `floor`, one bounded store query per page (WebSocket
    /// pattern subscribes with a time `since`, SSE resumes after `Last-Event-ID`). With
    /// `newerThan` (ms), only newer messages, and the first page tells whether no matching topic
    /// may have lost such messages to trimming (complete or not).
    static func patterns(
        _ patterns: [TopicPattern],
        hub: Hub,
        access: TopicAccess?,
        after sequence: UInt64,
        through floor: UInt64,
        newerThan milliseconds: Int64?,
        answer: ((_ recovered: Bool) -> ByteBuffer)?
    ) -> Replay {
        Replay(
            read: { history, cursor, first, loop in
                let page = hub.replayPage(history, matching: patterns, access: access, after: cursor, through: floor, newerThan: milliseconds, on: loop)
                guard first, let milliseconds else { return page }
                return page.and(history.mayHaveTrimmed(matching: patterns, newerThan: milliseconds, on: loop)).map { page, trimmed in
                    var page = page
                    page.complete = !trimmed
                    return page
                }
            },
            initialCursor: sequence,
            sub: { topicName in
                // None when the subscription names the topic, else the first pattern that matches it.
                guard let topic = try? Topic(topicName), !patterns.contains(TopicPattern(topic)) else { return nil }
                return patterns.first { $0.matches(topic) }?.text
            },
            answer: answer,
            sendsPartial: true
        )
    }
}
