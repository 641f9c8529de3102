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
