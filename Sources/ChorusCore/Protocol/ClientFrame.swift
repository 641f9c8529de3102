import NIOCore

/// A frame sent by a client, decoded and validated (protocol v1, "Client → hub").
public enum ClientFrame: Sendable {
    case auth(token: String)
    case subscribe(TopicPattern, since: RecoveryPosition?)
    case unsubscribe(TopicPattern)
    case publish(PublishFrame)
    case ping(timestamp: RawJSON?)
    case presence(Topic)
    case presenceUpdate(Topic, meta: RawJSON)
    case direct(to: String, event: String, data: RawJSON)
    /// Any other `type`: routed to a handler the application registered for it.
    case custom(type: String, fields: JSONObject)
}

/// The fields of a `publish` (alias `message`) frame.
public struct PublishFrame: Sendable {
    public var topic: Topic
    public var event: String?
    public var data: RawJSON
    /// Makes a retry within the hub's `idempotency_window` return the original `ack` instead of
    /// publishing again.
    public var idempotencyKey: String?

    /// The longest `idempotency_key`, in bytes: enough for a UUID with a prefix, and small
    /// because the hub keeps every key for its window.
    public static let maxIdempotencyKeyLength = 128

    public init(topic: Topic, event: String?, data: RawJSON, idempotencyKey: String?) {
        self.topic = topic
        self.event = event
        self.data = data
        self.idempotencyKey = idempotencyKey
    }
}
