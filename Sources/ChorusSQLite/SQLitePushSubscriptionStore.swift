public import ChorusCore
import Foundation
import GRDB

/// Push subscriptions in their own SQLite file (`push.sqlite` in `data_dir`), apart from the
/// history database: a handful of writes a day per user, none on the publish path.
public final class SQLitePushSubscriptionStore: PushSubscriptionStore {
    private let queue: DatabaseQueue
    /// The database file.
    public let path: String

    /// Opens (or creates) the database at `path`.
    public init(path: String) throws(StoreError) {
        self.path = path
        self.queue = try SQLiteFile.open("push", at: path) {
            var configuration = Configuration()
            configuration.label = "chorus-push"
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            try queue.write { db in
                try db.execute(sql: """
                    CREATE TABLE IF NOT EXISTS chorus_push_subscriptions (
                        id TEXT PRIMARY KEY, user TEXT NOT NULL, endpoint TEXT NOT NULL,
                        p256dh TEXT NOT NULL, auth TEXT NOT NULL, created_at INTEGER NOT NULL);
                    CREATE INDEX IF NOT EXISTS chorus_push_subscriptions_user ON chorus_push_subscriptions (user, created_at);
                    CREATE TABLE IF NOT EXISTS chorus_push_topics (
                        topic TEXT NOT NULL, id TEXT NOT NULL REFERENCES chorus_push_subscriptions (id) ON DELETE CASCADE,
                        position INTEGER NOT NULL, PRIMARY KEY (topic, id));
                    CREATE INDEX IF NOT EXISTS chorus_push_topics_id ON chorus_push_topics (id);
                    """)
            }
            return queue
        }
    }

    /// See ``PushSubscriptionStore/save(_:)``.
    public func save(_ subscription: PushSubscription) async throws {
        try await self.queue.write { db in
            // Its topics go with it (GRDB turns foreign keys on: ON DELETE CASCADE).
            try db.execute(sql: "DELETE FROM chorus_push_subscriptions WHERE id = ?", arguments: [subscription.id])
            try db.execute(
                sql: "INSERT INTO chorus_push_subscriptions (id, user, endpoint, p256dh, auth, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [subscription.id, subscription.user, subscription.endpoint, subscription.p256dh, subscription.auth, subscription.createdAt])
            for (position, topic) in subscription.topics.enumerated() {
                try db.execute(sql: "INSERT INTO chorus_push_topics (topic, id, position) VALUES (?, ?, ?)", arguments: [topic, subscription.id, position])
            }
        }
    }

    /// See ``PushSubscriptionStore/subscriptions(ofUser:)``.
    public func subscriptions(ofUser user: String) async throws -> [PushSubscription] {
        try await self.fetch(where: "s.user = ?", [user])
    }

    /// See ``PushSubscriptionStore/subscriptions(forTopic:)``.
    public func subscriptions(forTopic topic: String) async throws -> [PushSubscription] {
        try await self.fetch(where: "s.id IN (SELECT id FROM chorus_push_topics WHERE topic = ?)", [topic])
    }

    /// See ``PushSubscriptionStore/remove(id:user:)``.
    @discardableResult
    public func remove(id: String, user: String?) async throws -> Bool {
        try await self.queue.write { db in
            try db.execute(sql: "DELETE FROM chorus_push_subscriptions WHERE id = ? AND (? IS NULL OR user = ?)", arguments: [id, user, user])
            return db.changesCount > 0
        }
    }

    private func fetch(where condition: String, _ arguments: StatementArguments) async throws -> [PushSubscription] {
        try await self.queue.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT s.id, s.user, s.endpoint, s.p256dh, s.auth, s.created_at,
                    (SELECT group_concat(topic, char(10)) FROM (SELECT topic FROM chorus_push_topics t WHERE t.id = s.id ORDER BY position))
                FROM chorus_push_subscriptions s WHERE \(condition) ORDER BY s.created_at, s.id
                """, arguments: arguments)
            return rows.map { row in
                let topics: String? = row[6]
                return PushSubscription(
                    id: row[0], user: row[1], endpoint: row[2], p256dh: row[3], auth: row[4],
                    topics: topics.map { $0.split(separator: "\n").map(String.init) } ?? [], createdAt: row[5])
            }
        }
    }

    /// Closes the database.
    public func close() throws {
        try self.queue.close()
    }
}
