import ChorusCore

/// A protocol feature (pub/sub, history recovery, direct messages, custom frames; presence,
/// sync and signalling later): the client frames it serves, and what it does when a connection
/// subscribes, unsubscribes or closes.
///
/// The transport (``WebSocketConnection``) owns RFC 6455, authentication, rate limits, the
/// backlog and the close handshake; it hands each protocol frame to the feature that serves its
/// `type`. Features are values the hub holds once for every connection: a feature that must
/// remember something per connection keeps it on the connection's loop, keyed by connection
/// and made on first use, so an idle connection pays nothing for it. Fan-out never passes
/// through a feature: a delivered message costs the same whichever features are on.
protocol ConnectionFeature: Sendable {
    /// The frame types it serves. A type two features claim is a programming error.
    var frames: [FrameRoute] { get }

    /// Serves a frame of one of its types, on the connection's loop, once the client may act
    /// and the frame passed its rate limit. Answers with ``WebSocketConnection/reply(_:id:)``.
    func receive(_ frame: ClientFrame, id: RawJSON?, on connection: WebSocketConnection)

    /// The connection subscribed to `pattern` (the loop's trie already delivers it). True when
    /// this feature answered the `subscribe` (history answers with the topic's position and
    /// replays); at most one feature does, and when none does pub/sub answers plainly.
    func subscribed(to pattern: TopicPattern, since: RecoveryPosition?, id: RawJSON?, on connection: WebSocketConnection) -> Bool

    /// The connection unsubscribed from `pattern`, before the `unsubscribed` answer.
    func unsubscribed(from pattern: TopicPattern, on connection: WebSocketConnection)

    /// The connection closed: let go of whatever the feature kept for it.
    func closed(_ connection: WebSocketConnection)
}

extension ConnectionFeature {
    func receive(_ frame: ClientFrame, id: RawJSON?, on connection: WebSocketConnection) {}
    func subscribed(to pattern: TopicPattern, since: RecoveryPosition?, id: RawJSON?, on connection: WebSocketConnection) -> Bool { false }
    func unsubscribed(from pattern: TopicPattern, on connection: WebSocketConnection) {}
    func closed(_ connection: WebSocketConnection) {}
}

/// A frame type a feature serves, and the per-connection rate its frames count against.
struct FrameRoute: Sendable {
    var type: String
    /// `publish_rate_per_connection` for frames that send messages, `subscribe_rate_per_connection`
    /// for subscribes, nil for frames no rate limits.
    var limit: LimitKind?

    init(_ type: String, limit: LimitKind? = nil) {
        self.type = type
        self.limit = limit
    }
}
