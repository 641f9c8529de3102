/// A publish as deduplication sees it: who published, to which topic, under which key. Scoping
/// the client's key by publisher and topic keeps one caller from suppressing another's message.
public struct IdempotencyKey: Hashable, Sendable {
    /// `user:<sub>` for a token's user, `client:<id>` for an anonymous connection, `api` for the
    /// API key (and development mode).
    public var publisher: String
    /// The topic published to.
    public var topic: String
    /// The client's `idempotency_key`.
    public var key: String

    /// The key `key` of `publisher` for `topic`.
    public init(publisher: String, topic: String, key: String) {
        self.publisher = publisher
        self.topic = topic
        self.key = key
    }
}

/// What a publish under an idempotency key is to do.
public enum IdempotencyClaim: Sendable, Equatable {
    /// No publish holds the key: publish, then report the outcome with ``IdempotencyStore/finish(_:receipt:)``.
    case publish
    /// A publish under the key succeeded within the window: answer with its receipt, deliver nothing.
    case duplicate(Hub.Receipt)
}

/// Remembers the receipts of publishes made with an `idempotency_key`, for a window, so that a
/// retry is answered with the original receipt instead of being delivered again.
///
/// Callback-shaped so that a store shared by a cluster (Redis) can answer later.
public protocol IdempotencyStore: Sendable {
    /// Claims `key`. `answer` is called exactly once: at once, or, while a publish under the
    /// same key is still being committed, when that one settles (`.duplicate` if it succeeded,
    /// `.publish` if it failed: a failed publish is not remembered). It must not be called
    /// while the store holds a lock: it may publish and call ``finish(_:receipt:)``.
    func claim(_ key: IdempotencyKey, answer: @escaping @Sendable (IdempotencyClaim) -> Void)
    /// Reports how a publish answered `.publish` ended: its receipt, or nil when it failed.
    func finish(_ key: IdempotencyKey, receipt: Hub.Receipt?)
    /// How many keys are remembered or in flight now (for metrics).
    var count: Int { get }
}
