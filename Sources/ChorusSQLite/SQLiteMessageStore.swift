public import ChorusCore
import Foundation
import GRDB
import NIOCore

/// The embedded history store: one SQLite database in WAL mode, written by the hub's single
/// committer, one transaction per group commit.
///
/// With `synchronous = FULL` (the default) every commit is fsynced before it returns, so an
/// acknowledged publish survives a crash of the process or the machine. `NORMAL` skips that
/// fsync: it still survives the process being killed, not a power loss.
public final class SQLiteMessageStore: MessageStore {
    /// SQLite's `synchronous` setting for the database.
    public enum Sync: String, Sendable {
        /// fsync on every commit: survives a crash of the machine.
        case full = "FULL"
        /// No fsync per commit: survives the process being killed, not a power loss.
        case normal = "NORMAL"
    }

    private let pool: DatabasePool
    /// The database file.
    public let path: String

    /// Opens (or creates) the database at `path`. A file that is not a Chorus database, or not
    /// readable, is an error: history is never silently started anew.
    ///
    /// - Parameter maxSize: bytes the database may grow to; past it, appends fail (as on a full disk).
    public init(path: String, sync: Sync, maxSize: Int? = nil) throws(StoreError) {
        self.path = path
        self.pool = try SQLiteFile.open("history", at: path) {
            try Self.checkExistingFile(at: path)
            var configuration = Configuration()
            configuration.label = "chorus-history"
            configuration.maximumReaderCount = 4
            let pool = try DatabasePool(path: path, configuration: configuration)
            // DatabasePool opens in WAL mode with synchronous = NORMAL; set ours afterwards.
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = \(sync.rawValue)")
                if let maxSize {
                    let pageSize = try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 4096
                    try db.execute(sql: "PRAGMA max_page_count = \(max(8, maxSize / pageSize))")
                }
            }
            try pool.write { db in try Self.migrate(db) }
            return pool
        }
    }

    /// Closes the connections, the readers first: the writer, closing last, moves the WAL's
    /// pages into the database file and removes the WAL, so the file alone holds the history.
    public func close() throws {
        self.pool.releaseMemory()
        try self.pool.close()
    }

    /// Opening a database in WAL mode writes to it: look at an existing file read-only first, so
    /// that a file that is not ours is refused untouched.
    private static func checkExistingFile(at path: String) throws {
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size > 0 else { return }
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        try queue.read { db in try Self.checkTables(db) }
        try queue.close()
    }

    private static func checkTables(_ db: Database) throws {
        let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
        if !tables.isEmpty, !tables.contains("chorus_meta") {
            throw StoreError("it is an SQLite database, but not one of Chorus (tables: \(tables.prefix(5).joined(separator: ", ")))")
        }
    }

    /// The schema, created on first use; tables are prefixed so the file can be shared.
    private static func migrate(_ db: Database) throws {
        try Self.checkTables(db)
        try db.execute(sql: """
            CREATE TABLE IF NOT EXISTS chorus_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS chorus_topics (
                name TEXT PRIMARY KEY, epoch TEXT NOT NULL, last_offset INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS chorus_messages (
                topic TEXT NOT NULL, topic_offset INTEGER NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL,
                message_id TEXT NOT NULL, event TEXT NOT NULL, data BLOB NOT NULL,
                sender_user TEXT, sender_client TEXT,
                PRIMARY KEY (topic, topic_offset));
            CREATE INDEX IF NOT EXISTS chorus_messages_ts ON chorus_messages (ts);
            CREATE INDEX IF NOT EXISTS chorus_messages_seq ON chorus_messages (seq);
            INSERT INTO chorus_meta (key, value) VALUES ('schema_version', '1') ON CONFLICT (key) DO NOTHING;
            """)
        // Version 2: what trimming took, per topic and per namespace of forgotten topics.
        let columns = try Row.fetchAll(db, sql: "PRAGMA table_info(chorus_topics)").map { $0["name"] as String }
        if !columns.contains("trimmed_ts") {
            try db.execute(sql: "ALTER TABLE chorus_topics ADD COLUMN trimmed_ts INTEGER NOT NULL DEFAULT 0")
        }
        try db.execute(sql: """
            CREATE INDEX IF NOT EXISTS chorus_topics_trimmed ON chorus_topics (trimmed_ts);
            CREATE TABLE IF NOT EXISTS chorus_forgotten (namespace TEXT PRIMARY KEY, trimmed_ts INTEGER NOT NULL);
            UPDATE chorus_meta SET value = '2' WHERE key = 'schema_version';
            """)
    }

    /// See ``MessageStore/loadSnapshot()``.
    public func loadSnapshot() throws -> StoreSnapshot {
        try self.guarded {
            try self.pool.read { db in
                var topics: [String: TopicHistoryState] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT name, epoch, last_offset FROM chorus_topics") {
                    topics[row[0]] = TopicHistoryState(epoch: row[1], lastOffset: UInt64(row[2] as Int64))
                }
                let last = try String.fetchOne(db, sql: "SELECT value FROM chorus_meta WHERE key = 'last_sequence'")
                return StoreSnapshot(topics: topics, lastSequence: last.flatMap { UInt64($0) } ?? 0)
            }
        }
    }

    /// See ``MessageStore/append(_:)``: one transaction.
    public func append(_ batch: AppendBatch) throws {
        try self.guarded {
            try self.pool.write { db in
                let insert = try db.cachedStatement(sql: """
                    INSERT INTO chorus_messages (topic, topic_offset, seq, ts, message_id, event, data, sender_user, sender_client)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                for message in batch.messages {
                    let envelope = message.envelope
                    try insert.execute(arguments: [
                        envelope.topic, Int64(message.offset), Int64(message.sequence), envelope.timestamp,
                        envelope.messageID, envelope.event, Data(envelope.storedData.readableBytesView),
                        envelope.from?.user, envelope.from?.client,
                    ])
                }
                let upsert = try db.cachedStatement(sql: """
                    INSERT INTO chorus_topics (name, epoch, last_offset) VALUES (?, ?, ?)
                    ON CONFLICT (name) DO UPDATE SET last_offset = excluded.last_offset
                    """)
                let markTrimmed = try db.cachedStatement(sql: """
                    UPDATE chorus_topics SET trimmed_ts = max(trimmed_ts, coalesce(
                        (SELECT max(ts) FROM chorus_messages WHERE topic = ?1 AND topic_offset <= ?2), 0))
                    WHERE name = ?1
                    """)
                let trim = try db.cachedStatement(sql: "DELETE FROM chorus_messages WHERE topic = ? AND topic_offset <= ?")
                for (topic, last) in batch.lastOffsets {
                    let epoch = batch.newTopics[topic] ?? batch.messages.first { $0.topic == topic }?.envelope.epoch ?? ""
                    try upsert.execute(arguments: [topic, epoch, Int64(last)])
                    if let keep = batch.keep[topic], last > UInt64(keep) {
                        let arguments: StatementArguments = [topic, Int64(last) - Int64(keep)]
                        try markTrimmed.execute(arguments: arguments)
                        try trim.execute(arguments: arguments)
                    }
                }
                if let last = batch.messages.last?.sequence {
                    try db.execute(
                        sql: "INSERT INTO chorus_meta (key, value) VALUES ('last_sequence', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        arguments: [String(last)]
                    )
                }
            }
        }
    }

    /// See ``MessageStore/messages(topic:after:limit:)``.
    public func messages(topic: String, after offset: UInt64, limit: Int) throws -> [StoredMessage] {
        try self.guarded {
            try self.pool.read { db in
                try Self.fetch(db, sql: "\(Self.select) WHERE topic = ? AND topic_offset > ? ORDER BY topic_offset LIMIT ?", [topic, Int64(offset), limit])
            }
        }
    }

    /// See ``MessageStore/messages(topic:before:limit:)``.
    public func messages(topic: String, before offset: UInt64, limit: Int) throws -> [StoredMessage] {
        try self.guarded {
            try self.pool.read { db in
                try Self.fetch(db, sql: "\(Self.select) WHERE topic = ? AND topic_offset < ? ORDER BY topic_offset DESC LIMIT ?", [topic, Int64(clamping: offset), limit])
            }
        }
    }

    /// See ``MessageStore/messages(matching:afterSequence:through:newerThan:limit:maxBytes:)``.
    public func messages(
        matching patterns: [TopicPattern],
        afterSequence sequence: UInt64,
        through last: UInt64,
        newerThan timestamp: Int64?,
        limit: Int,
        maxBytes: Int
    ) throws -> [StoredMessage] {
        try self.guarded {
            try self.pool.read { db in
                // Topic matching in the query, so a page costs one walk of the sequence index
                // however many topics there are.
                let matches = DatabaseFunction("chorus_topic_matches", argumentCount: 1, pure: true) { values in
                    guard let name = String.fromDatabaseValue(values[0]), let topic = try? Topic(name) else { return false }
                    return patterns.contains { $0.matches(topic) }
                }
                db.add(function: matches)
                defer { db.remove(function: matches) }
                var sql = "\(Self.select) WHERE seq > ? AND seq <= ? AND chorus_topic_matches(topic)"
                var arguments: StatementArguments = [Int64(sequence), Int64(last)]
                if let timestamp {
                    sql += " AND ts > ?"
                    arguments += [timestamp]
                }
                arguments += [limit]
                let rows = try Row.fetchCursor(db, sql: sql + " ORDER BY seq LIMIT ?", arguments: arguments)
                var page: [StoredMessage] = []
                var bytes = 0
                while bytes < maxBytes, let row = try rows.next() {
                    let message = Self.message(row)
                    bytes += message.envelope.data.readableBytes
                    page.append(message)
                }
                return page
            }
        }
    }

    /// See ``MessageStore/trim(namespace:olderThan:)``.
    public func trim(namespace: String, olderThan timestamp: Int64) throws -> [String] {
        try self.guarded {
            try self.pool.write { db in
                var arguments: StatementArguments = [timestamp]
                arguments += Self.namespaceArguments(namespace)
                // Through the `ts` index: the work follows the messages trimmed, not the topics kept.
                let trimmed = try Row.fetchAll(
                    db, sql: "SELECT topic, max(ts) FROM chorus_messages WHERE ts < ? AND \(Self.inNamespace) GROUP BY topic", arguments: arguments)
                guard !trimmed.isEmpty else { return [] }
                try db.execute(sql: "DELETE FROM chorus_messages WHERE ts < ? AND \(Self.inNamespace)", arguments: arguments)
                // Only a topic still without messages is forgotten, whatever was committed since the trim began.
                let forget = try db.cachedStatement(sql: """
                    DELETE FROM chorus_topics WHERE name = ?1 AND NOT EXISTS (SELECT 1 FROM chorus_messages WHERE topic = ?1)
                    RETURNING max(trimmed_ts, ?2)
                    """)
                let mark = try db.cachedStatement(sql: "UPDATE chorus_topics SET trimmed_ts = max(trimmed_ts, ?2) WHERE name = ?1")
                var forgotten: [String] = []
                var newestForgotten = Int64.min
                for row in trimmed {
                    let topic: String = row[0]
                    let newest: Int64 = row[1]
                    if let was = try Int64.fetchOne(forget, arguments: [topic, newest]) {
                        forgotten.append(topic)
                        newestForgotten = max(newestForgotten, was)
                    } else {
                        try mark.execute(arguments: [topic, newest])
                    }
                }
                if !forgotten.isEmpty {
                    try db.execute(
                        sql: """
                            INSERT INTO chorus_forgotten (namespace, trimmed_ts) VALUES (?, ?)
                            ON CONFLICT (namespace) DO UPDATE SET trimmed_ts = max(trimmed_ts, excluded.trimmed_ts)
                            """,
                        arguments: [namespace, newestForgotten]
                    )
                }
                return forgotten
            }
        }
    }

    /// See ``MessageStore/mayHaveTrimmed(matching:newerThan:)``.
    public func mayHaveTrimmed(matching patterns: [TopicPattern], newerThan timestamp: Int64) throws -> Bool {
        try self.guarded {
            try self.pool.read { db in
                for pattern in patterns {
                    let newest = if let namespace = pattern.namespace {
                        try Int64.fetchOne(db, sql: "SELECT trimmed_ts FROM chorus_forgotten WHERE namespace = ?", arguments: [String(namespace)])
                    } else {
                        try Int64.fetchOne(db, sql: "SELECT max(trimmed_ts) FROM chorus_forgotten")
                    }
                    if let newest, newest > timestamp { return true }
                }
                // Through the `trimmed_ts` index: only topics trimmed after `timestamp`, one row at a time.
                let names = try String.fetchCursor(db, sql: "SELECT name FROM chorus_topics WHERE trimmed_ts > ?", arguments: [timestamp])
                while let name = try names.next() {
                    guard let topic = try? Topic(name) else { continue }
                    if patterns.contains(where: { $0.matches(topic) }) { return true }
                }
                return false
            }
        }
    }

    /// The topics of one namespace: its name alone, or followed by `:` or `.` (as byte ranges,
    /// so the primary key and the `ts` index serve it). Bound by ``namespaceArguments(_:)``.
    private static let inNamespace = "(topic = ? OR (topic >= ? AND topic < ?) OR (topic >= ? AND topic < ?))"

    private static func namespaceArguments(_ namespace: String) -> StatementArguments {
        [namespace, namespace + ":", namespace + ";", namespace + ".", namespace + "/"]
    }

    private static let select = "SELECT topic, topic_offset, seq, ts, message_id, event, data, sender_user, sender_client, epoch FROM chorus_messages JOIN chorus_topics ON chorus_topics.name = chorus_messages.topic"

    private static func fetch(_ db: Database, sql: String, _ arguments: StatementArguments) throws -> [StoredMessage] {
        try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.message)
    }

    private static func message(_ row: Row) -> StoredMessage {
        let data: Data = row[6]
        let user: String? = row[7]
        let client: String? = row[8]
        var envelope = MessageEnvelope(
            topic: row[0],
            event: row[5],
            data: ByteBuffer(),
            messageID: row[4],
            offset: UInt64(row[1] as Int64),
            epoch: row[9],
            timestamp: row[3],
            from: client.map { MessageSender(user: user, client: $0) }
        )
        envelope.setStoredData(ByteBuffer(bytes: data))
        return StoredMessage(envelope: envelope, sequence: UInt64(row[2] as Int64))
    }

    /// Database errors become ``StoreError``s that say what failed.
    private func guarded<T>(_ body: () throws -> T) throws(StoreError) -> T {
        do {
            return try body()
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError {
            throw StoreError("history database error: \(error.message ?? error.description)")
        } catch {
            throw StoreError("history database error: \(error)")
        }
    }
}
