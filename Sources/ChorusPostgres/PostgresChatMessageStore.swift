public import ChorusCore
public import Logging
public import PostgresNIO

/// The messages resource shared by a cluster's nodes (migration 4, `messages`). Each change is
/// one statement (or a locked read and an update in one transaction), committed before it
/// returns; the sequence is a `bigserial` (paging only needs it unique and increasing per
/// insert, not in commit order, since nothing reads "after" it as a cursor).
public final class PostgresChatMessageStore: ChatMessageStore {
    private let client: PostgresClient
    private let logger: Logger
    private let timeout: Duration

    /// A store on `client` (``PostgresService/client``, migrated); a call that takes longer
    /// than `timeout` fails with a ``StoreError``.
    public init(client: PostgresClient, timeout: Duration = .seconds(10), logger: Logger = Logger(label: "chorus.messages")) {
        self.client = client
        self.timeout = timeout
        self.logger = logger
    }

    private static let columns = "seq, id, sender, channel_id, recipient_id, text, metadata, created_at, updated_at, version, deleted"

    /// See ``ChatMessageStore/insert(_:now:)``.
    public func insert(_ message: NewChatMessage, now: Int64) async throws -> ChatMessage {
        try await self.one(
            """
            INSERT INTO chorus_messages (id, sender, channel_id, recipient_id, text, metadata, created_at, updated_at, version)
            VALUES (\(message.id), \(message.sender), \(message.channelID), \(message.recipientID), \(message.text), \(message.metadata),
                \(now), \(now), 1)
            RETURNING \(unescaped: Self.columns)
            """)!
    }

    /// See ``ChatMessageStore/message(_:)``.
    public func message(_ id: String) async throws -> ChatMessage? {
        try await self.one("SELECT \(unescaped: Self.columns) FROM chorus_messages WHERE id = \(id)")
    }

    /// See ``ChatMessageStore/messages(_:)``.
    public func messages(_ query: ChatMessageQuery) async throws -> [ChatMessage] {
        try await self.all(
            """
            SELECT \(unescaped: Self.columns) FROM chorus_messages WHERE NOT deleted
            AND (\(query.channelID)::text IS NULL OR channel_id = \(query.channelID))
            AND (\(query.user)::text IS NULL OR sender = \(query.user) OR recipient_id = \(query.user))
            AND (\(query.beforeSequence)::bigint IS NULL OR seq < \(query.beforeSequence))
            ORDER BY seq DESC LIMIT \(query.limit)
            """)
    }

    /// See ``ChatMessageStore/update(_:_:now:)``.
    public func update(_ id: String, _ patch: ChatMessagePatch, now: Int64) async throws -> ChatMessage? {
        // `metadata` is set only when the patch names it (a null removes it).
        let setsMetadata = patch.metadata != nil
        let metadata = patch.metadata ?? nil
        return try await self.one(
            """
            UPDATE chorus_messages SET text = coalesce(\(patch.text), text),
                metadata = CASE WHEN \(setsMetadata) THEN \(metadata) ELSE metadata END,
                updated_at = \(now), version = version + 1
            WHERE id = \(id) AND NOT deleted
            RETURNING \(unescaped: Self.columns)
            """)
    }

    /// See ``ChatMessageStore/delete(_:now:)``.
    public func delete(_ id: String, now: Int64) async throws -> ChatMessage? {
        try await self.one(
            """
            UPDATE chorus_messages SET text = '', metadata = NULL, deleted = true, updated_at = \(now), version = version + 1
            WHERE id = \(id) AND NOT deleted
            RETURNING \(unescaped: Self.columns)
            """)
    }

    /// See ``ChatMessageStore/unpublished(limit:)``.
    public func unpublished(limit: Int) async throws -> [ChatMessage] {
        try await self.all("SELECT \(unescaped: Self.columns) FROM chorus_messages WHERE published < version ORDER BY seq LIMIT \(limit)")
    }

    /// See ``ChatMessageStore/markPublished(_:version:)``.
    public func markPublished(_ id: String, version: Int64) async throws {
        _ = try await self.all("UPDATE chorus_messages SET published = greatest(published, \(version)) WHERE id = \(id) RETURNING \(unescaped: Self.columns)")
    }

    private func one(_ query: PostgresQuery) async throws(StoreError) -> ChatMessage? {
        try await self.all(query).first
    }

    private func all(_ query: PostgresQuery) async throws(StoreError) -> [ChatMessage] {
        try await PostgresUnavailable.bounded(self.timeout, store: "messages store") {
            var messages: [ChatMessage] = []
            let rows = try await self.client.query(query, logger: self.logger)
            for try await row in rows {
                let columns = row.makeRandomAccess()
                messages.append(
                    ChatMessage(
                        id: try columns[1].decode(String.self), sequence: try columns[0].decode(Int64.self),
                        sender: try columns[2].decode(String.self), channelID: try columns[3].decode(String?.self),
                        recipientID: try columns[4].decode(String?.self), text: try columns[5].decode(String.self),
                        metadata: try columns[6].decode(String?.self), createdAt: try columns[7].decode(Int64.self),
                        updatedAt: try columns[8].decode(Int64.self), version: try columns[9].decode(Int64.self),
                        deleted: try columns[10].decode(Bool.self)))
            }
            return messages
        }
    }
}
