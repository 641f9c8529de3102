/// A browser's Web Push subscription, registered by a user (`POST /api/push/subscriptions`):
/// where its push service takes messages for it, and the keys its messages are encrypted for.
public struct PushSubscription: Sendable, Equatable {
    /// A short stable id, derived from the endpoint (one subscription per endpoint).
    public var id: String
    /// The user it belongs to (token `sub`).
    public var user: String
    /// The push service URL (`PushSubscription.endpoint`).
    public var endpoint: String
    /// The browser's P-256 public key, base64url (`keys.p256dh`).
    public var p256dh: String
    /// The browser's authentication secret, base64url (`keys.auth`).
    public var auth: String
    /// Topics whose messages are pushed to it while its user is offline, in namespaces with
    /// `push: true`.
    public var topics: [String]
    /// When it was registered, in milliseconds since the epoch.
    public var createdAt: Int64

    /// A subscription with every field given.
    public init(id: String, user: String, endpoint: String, p256dh: String, auth: String, topics: [String], createdAt: Int64) {
        self.id = id
        self.user = user
        self.endpoint = endpoint
        self.p256dh = p256dh
        self.auth = auth
        self.topics = topics
        self.createdAt = createdAt
    }
}
