public import ChorusCore
public import Logging
public import PostgresNIO

/// Web Push subscriptions shared by a cluster's nodes (migration 5, `push`): a subscription
/// registered through one node is found by a send or a `push: true` message on any other. The
/// tables are `push.sqlite`'s; a save is one transaction (the row and its topics together).
public final class PostgresPushSubscriptionStore: PushSubscriptionStore {
    private let client: PostgresClient
    private let logger: Logger
    private let timeout: Duration

    /// A store on `client` (``PostgresService/client``, migrated); a call that takes longer
    /// than `timeout` fails with a ``StoreError``.
    public init(client: PostgresClient, timeout: Duration = .seconds(10), logger: Logger = Logger(label: "chorus.push")) {
        self.client = client
        self.timeout = timeout
        self.logger = logger
    }

    /// See ``PushSubscriptionStore/save(_:)``.
    public func save(_ subscription: PushSubscription) async throws {
        try await PostgresUnavailable.bounded(self.timeout, store: "push store") {
            try await self.client.withTransaction(logger: self.logger) { connection in
                // Its topics go with it (ON DELETE CASCADE).
                _ = try await connection.query("DELETE FROM chorus_push_subscriptions WHERE id = \(subscription.id)", logger: self.logger)
                _ = try await connection.query(
                    """
                    INSERT INTO chorus_push_subscriptions (id, user_name, endpoint, p256dh, auth, created_at)
                    VALUES (\(subscription.id), \(subscription.user), \(subscription.endpoint), \(subscription.p256dh), \(subscription.auth),
                        \(subscription.createdAt))
                    """, logger: self.logger)
                if !subscription.topics.isEmpty {
                    _ = try await connection.query(
                        """
                        INSERT INTO chorus_push_topics (topic, id, position)
                        SELECT topic, \(subscription.id), position FROM unnest(\(subscription.topics)::text[]) WITH ORDINALITY AS t(topic, position)
                        """, logger: self.logger)
                }
            }
        }
    }

    /// A subscription's columns, its topics in the order given as an array.
    private static let columns = """
        s.id, s.user_name, s.endpoint, s.p256dh, s.auth, s.created_at,
        ARRAY(SELECT topic FROM chorus_push_topics t WHERE t.id = s.id ORDER BY position)
        """

    /// See ``PushSubscriptionStore/subscriptions(ofUser:)``.
    public func subscriptions(ofUser user: String) async throws -> [PushSubscription] {
        try await self.fetch(
            "SELECT \(unescaped: Self.columns) FROM chorus_push_subscriptions s WHERE s.user_name = \(user) ORDER BY s.created_at, s.id")
    }

    /// See ``PushSubscriptionStore/subscriptions(forTopic:)``.
    public func subscriptions(forTopic topic: String) async throws -> [PushSubscription] {
        try await self.fetch(
            """
            SELECT \(unescaped: Self.columns) FROM chorus_push_subscriptions s
            WHERE s.id IN (SELECT id FROM chorus_push_topics WHERE topic = \(topic)) ORDER BY s.created_at, s.id
            """)
    }

    /// See ``PushSubscriptionStore/remove(id:user:)``.
    @discardableResult
    public func remove(id: String, user: String?) async throws -> Bool {
        try await PostgresUnavailable.bounded(self.timeout, store: "push store") {
            let rows = try await self.client.query(
                "DELETE FROM chorus_push_subscriptions WHERE id = \(id) AND (\(user)::text IS NULL OR user_name = \(user)) RETURNING id",
                logger: self.logger)
            var removed = false
            for try await _ in rows { removed = true }
            return removed
        }
    }

    private func fetch(_ query: PostgresQuery) async throws(StoreError) -> [PushSubscription] {
        try await PostgresUnavailable.bounded(self.timeout, store: "push store") {
            var subscriptions: [PushSubscription] = []
            for try await row in try await self.client.query(query, logger: self.logger) {
                let (id, user, endpoint, p256dh, auth, createdAt, topics) = try row.decode((String, String, String, String, String, Int64, [String]).self)
                subscriptions.append(
                    PushSubscription(id: id, user: user, endpoint: endpoint, p256dh: p256dh, auth: auth, topics: topics, createdAt: createdAt))
            }
            return subscriptions
        }
    }
}
