import ChorusCore
import NIOCore

/// One replay of history to a connection, as its ``RecoveryGate`` keeps it between pages.
struct Replay {
    /// Reads the page after a cursor, on the history readers' pool; the first page also tells
    /// whether the replay is complete.
    let read: @Sendable (_ store: any MessageStore, _ cursor: UInt64, _ first: Bool) throws -> ReplayPage
    let initialCursor: UInt64
    /// The `sub` of a replayed message, from its topic.
    let sub: (String) -> String?
    /// The encoded answer (WebSocket `subscribed`), sent once the first page tells whether the
    /// replay is complete; `recovered` is its argument.
    let answer: ((_ recovered: Bool) -> ByteBuffer)?
    /// An incomplete pattern replay still sends what history kept; a topic's sends nothing.
    let sendsPartial: Bool
}

/// One page of a replay, read on the history readers' pool.
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
            read: { store, cursor, first in
                var page = try hub.replayPage(store, matching: patterns, access: access, after: cursor, through: floor, newerThan: milliseconds)
                if first, let milliseconds { page.complete = try !store.mayHaveTrimmed(matching: patterns, newerThan: milliseconds) }
                return page
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
