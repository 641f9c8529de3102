public import ChorusCore
import Foundation
import GRDB

/// The messages resource on one node: its own SQLite file in WAL mode (`messages.sqlite` in
/// `data_dir`), each change one transaction committed (`synchronous = FULL` by default) before
/// it returns. The sequence is SQLite's AUTOINCREMENT rowid: never reused.
public final class SQLiteChatMessageStore: ChatMessageStore {
    private let pool: DatabasePool
    /// The database file.
    public let path: String

    /// Opens (or creates) the database at `path`.
    public init(path: String, sync: SQLiteMessageStore.Sync = .full) throws(StoreError) {
        self.path = path
        self.pool = try SQLiteFile.pool("messages", at: path, sync: sync, schema: Self.schema)
    }

    /// Closes the connections; the WAL is checkpointed into the file.
    public func close() throws {
        try self.pool.close()
    }

    private static let schema = """
        CREATE TABLE IF NOT EXISTS chorus_messages (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, sender TEXT NOT NULL, channel_id TEXT,
            recipient_id TEXT, text TEXT NOT NULL, metadata TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
            version INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0, published INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX IF NOT EXISTS chorus_messages_channel ON chorus_messages (channel_id, seq);
        CREATE INDEX IF NOT EXISTS chorus_messages_sender ON chorus_messages (sender, seq);
        CREATE INDEX IF NOT EXISTS chorus_messages_recipient ON chorus_messages (recipient_id, seq);
        CREATE INDEX IF NOT EXISTS chorus_messages_unpublished ON chorus_messages (seq) WHERE published < version;
        """

    private static let columns = "seq, id, sender, channel_id, recipient_id, text, metadata, created_at, updated_at, version, deleted"

    /// See ``ChatMessageStore/insert(_:now:)``.
    public func insert(_ message: NewChatMessage, now: Int64) async throws -> ChatMessage {
        try await self.pool.storeWrite("messages") { db in
            try db.execute(
                sql: """
                    INSERT INTO chorus_messages (id, sender, channel_id, recipient_id, text, metadata, created_at, updated_at, version)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)
                    """,
                arguments: [message.id, message.sender, message.channelID, message.recipientID, message.text, message.metadata, now, now])
            return try Self.fetch(message.id, db)!
        }
    }

    /// See ``ChatMessageStore/message(_:)``.
    public func message(_ id: String) async throws -> ChatMessage? {
        try await self.pool.storeRead("messages") { db in try Self.fetch(id, db) }
    }

    /// See ``ChatMessageStore/messages(_:)``.
    public func messages(_ query: ChatMessageQuery) async throws -> [ChatMessage] {
        try await self.pool.storeRead("messages") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.columns) FROM chorus_messages WHERE deleted = 0
                    AND (?1 IS NULL OR channel_id = ?1) AND (?2 IS NULL OR sender = ?2 OR recipient_id = ?2)
                    AND (?3 IS NULL OR seq < ?3) ORDER BY seq DESC LIMIT ?4
                    """,
                arguments: [query.channelID, query.user, query.beforeSequence, query.limit]
            ).map(Self.message)
        }
    }

    /// See ``ChatMessageStore/update(_:_:now:)``.
    public func update(_ id: String, _ patch: ChatMessagePatch, now: Int64) async throws -> ChatMessage? {
        try await self.pool.storeWrite("messages") { db in
            guard var message = try Self.fetch(id, db), !message.deleted else { return nil }
            if let text = patch.text { message.text = text }
            if let metadata = patch.metadata { message.metadata = metadata }
            try db.execute(
                sql: "UPDATE chorus_messages SET text = ?, metadata = ?, updated_at = ?, version = version + 1 WHERE id = ?",
                arguments: [message.text, message.metadata, now, id])
            return try Self.fetch(id, db)
        }
    }

    /// See ``ChatMessageStore/delete(_:now:)``.
    public func delete(_ id: String, now: Int64) async throws -> ChatMessage? {
        try await self.pool.storeWrite("messages") { db in
            try db.execute(
                sql: "UPDATE chorus_messages SET text = '', metadata = NULL, deleted = 1, updated_at = ?, version = version + 1 WHERE id = ? AND deleted = 0",
                arguments: [now, id])
            return db.changesCount == 0 ? nil : try Self.fetch(id, db)
        }
    }

    /// See ``ChatMessageStore/unpublished(limit:)``.
    public func unpublished(limit: Int) async throws -> [ChatMessage] {
        try await self.pool.storeRead("messages") { db in
            try Row.fetchAll(
                db, sql: "SELECT \(Self.columns) FROM chorus_messages WHERE published < version ORDER BY seq LIMIT ?", arguments: [limit]
            ).map(Self.message)
        }
    }

    /// See ``ChatMessageStore/markPublished(_:version:)``.
    public func markPublished(_ id: String, version: Int64) async throws {
        try await self.pool.storeWrite("messages") { db in
            try db.execute(sql: "UPDATE chorus_messages SET published = max(published, ?) WHERE id = ?", arguments: [version, id])
        }
    }

    private static func fetch(_ id: String, _ db: Database) throws -> ChatMessage? {
        try Row.fetchOne(db, sql: "SELECT \(Self.columns) FROM chorus_messages WHERE id = ?", arguments: [id]).map(Self.message)
    }

    private static func message(_ row: Row) -> ChatMessage {
        ChatMessage(
            id: row[1], sequence: row[0], sender: row[2], channelID: row[3], recipientID: row[4], text: row[5], metadata: row[6],
            createdAt: row[7], updatedAt: row[8], version: row[9], deleted: row[10])
    }
}
