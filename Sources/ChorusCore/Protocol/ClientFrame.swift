public import NIOCore

/// A frame sent by a client, decoded and validated (protocol v1, "Client → hub").
public enum ClientFrame: Sendable {
    /// `auth`: a token for the connection.
    case auth(token: String)
    /// `subscribe` to a topic or pattern, resuming from `since` when given.
    case subscribe(TopicPattern, since: RecoveryPosition?)
    /// `unsubscribe` from a topic or pattern.
    case unsubscribe(TopicPattern)
    /// `publish` (alias `message`).
    case publish(PublishFrame)
    /// `ping`, with the client's `timestamp` to echo.
    case ping(timestamp: RawJSON?)
    /// `presence`: who is present in a topic, the whole list or a page of it (`limit`, `after`).
    case presence(Topic, page: PresencePage = .whole)
    /// `presence_join`: the client joins a topic's presence, with its `meta` (an object; nil:
    /// `{}`); the answer lists at most `limit` members (nil: all).
    case presenceJoin(Topic, meta: RawJSON?, limit: Int? = nil)
    /// `presence_update`: the client's presence `meta` in a topic.
    case presenceUpdate(Topic, meta: RawJSON)
    /// `presence_leave`: the client leaves a topic's presence.
    case presenceLeave(Topic)
    /// `presence_stats`: how many are present in a topic, without the member list.
    case presenceStats(Topic)
    /// `signal`: WebRTC signalling `data` for exactly one connection (`to`, a client id).
    case signal(to: String, data: RawJSON)
    /// `direct`: a message to every connection of one user.
    case direct(to: String, event: String, data: RawJSON)
    /// `sync_subscribe`: a collection's snapshot, or its changes after version `since` while
    /// they are kept, then every change as it is made.
    case syncSubscribe(Topic, since: UInt64?)
    /// `sync_unsubscribe`: no more changes of a collection.
    case syncUnsubscribe(Topic)
    /// `sync_mutate`: an insert, update or delete of one record of a collection.
    case syncMutate(Topic, SyncMutation)
    /// `event_publish`: an event for the hub's event bus.
    case eventPublish(EventPublishFrame)
    /// Any other `type`: routed to a handler the application registered for it.
    case custom(type: String, fields: JSONObject)
}

/// The fields of a `publish` (alias `message`) frame.
public struct PublishFrame: Sendable {
    /// The topic published to.
    public var topic: Topic
    /// The event name; nil: `message`.
    public var event: String?
    /// The message's JSON, forwarded as sent.
    public var data: RawJSON
    /// Makes a retry within the hub's `idempotency_window` return the original `ack` instead of
    /// publishing again.
    public var idempotencyKey: String?
    /// The raw bytes of a binary publish (a binary WebSocket frame, ``BinaryFrame``); `data` is
    /// then `null` and unused. Nil for a JSON publish.
    public var binaryData: ByteBuffer?

    /// The longest `idempotency_key`, in bytes: enough for a UUID with a prefix, and small
    /// because the hub keeps every key for its window.
    public static let maxIdempotencyKeyLength = 128

    /// `key`, when it is a valid `idempotency_key` (1 to ``maxIdempotencyKeyLength`` bytes).
    public static func checkIdempotencyKey(_ key: String) throws(ProtocolError) -> String {
        guard !key.isEmpty, key.utf8.count <= Self.maxIdempotencyKeyLength else {
            throw ProtocolError(.badRequest, "field 'idempotency_key' must be 1 to \(Self.maxIdempotencyKeyLength) bytes long")
        }
        return key
    }

    /// The fields of a `publish` frame.
    public init(topic: Topic, event: String?, data: RawJSON, idempotencyKey: String?) {
        self.topic = topic
        self.event = event
        self.data = data
        self.idempotencyKey = idempotencyKey
    }
}
