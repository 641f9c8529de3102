/// Where push subscriptions are kept: the embedded SQLite store, PostgreSQL (a cluster's, with
/// `postgres_url`), or memory.
///
/// Saving a subscription whose endpoint is known replaces it (a browser re-subscribing gets the
/// same endpoint, maybe new keys or topics).
public protocol PushSubscriptionStore: Sendable {
    /// Saves `subscription`, replacing one with the same id.
    func save(_ subscription: PushSubscription) async throws
    /// The user's subscriptions, oldest first.
    func subscriptions(ofUser user: String) async throws -> [PushSubscription]
    /// Subscriptions that opted `topic` in, oldest first.
    func subscriptions(forTopic topic: String) async throws -> [PushSubscription]
    /// Removes the subscription `id` (of `user`, when given); false when there was none.
    @discardableResult
    func remove(id: String, user: String?) async throws -> Bool
}

/// Push subscriptions in memory: lost on restart (the `memory` store, and tests).
public actor MemoryPushSubscriptionStore: PushSubscriptionStore {
    private var byID: [String: PushSubscription] = [:]

    /// An empty store.
    public init() {}

    /// See ``PushSubscriptionStore/save(_:)``.
    public func save(_ subscription: PushSubscription) {
        self.byID[subscription.id] = subscription
    }

    /// See ``PushSubscriptionStore/subscriptions(ofUser:)``.
    public func subscriptions(ofUser user: String) -> [PushSubscription] {
        self.sorted { $0.user == user }
    }

    /// See ``PushSubscriptionStore/subscriptions(forTopic:)``.
    public func subscriptions(forTopic topic: String) -> [PushSubscription] {
        self.sorted { $0.topics.contains(topic) }
    }

    /// See ``PushSubscriptionStore/remove(id:user:)``.
    @discardableResult
    public func remove(id: String, user: String?) -> Bool {
        guard let existing = self.byID[id], user == nil || existing.user == user else { return false }
        self.byID[id] = nil
        return true
    }

    private func sorted(where include: (PushSubscription) -> Bool) -> [PushSubscription] {
        self.byID.values.filter(include).sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }
}
