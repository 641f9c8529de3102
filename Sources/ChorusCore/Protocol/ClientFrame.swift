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
    public var idempotencyKey: String?

    public init(topic: Topic, event: String?, data: RawJSON, idempotencyKey: String?) {
        self.topic = topic
        self.event = event
        self.data = data
        self.idempotencyKey = idempotencyKey
    }
}
