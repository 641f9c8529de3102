/// The messages resource's durable store (docs/event-bus.md, "The messages resource"):
/// `SQLiteChatMessageStore` on one node, `PostgresChatMessageStore` in a cluster; both pass one
/// contract suite (ChatMessageStoreContractTests). Each change is committed before it returns.
///
/// It is also the outbox of the messages' events: a change raises `version`, and
/// ``unpublished(limit:)`` lists the messages whose last change's event is not yet marked
/// published, so a change whose event a crash prevented is published after the restart.
/// Times are milliseconds since the Unix epoch, passed in. Failures throw `StoreError`.
public protocol ChatMessageStore: Sendable {
    /// Stores a new message (version 1), with the next sequence.
    func insert(_ message: NewChatMessage, now: Int64) async throws -> ChatMessage
    /// The message `id`, tombstones included; nil when there is none.
    func message(_ id: String) async throws -> ChatMessage?
    /// Messages that are not deleted, newest first, as `query` selects.
    func messages(_ query: ChatMessageQuery) async throws -> [ChatMessage]
    /// Applies `patch` (version + 1); nil when there is no such message or it is deleted.
    func update(_ id: String, _ patch: ChatMessagePatch, now: Int64) async throws -> ChatMessage?
    /// Makes the message a tombstone (no text or metadata, version + 1); nil when there is no
    /// such message or it is already deleted.
    func delete(_ id: String, now: Int64) async throws -> ChatMessage?
    /// Messages whose last change's event is not marked published, oldest first.
    func unpublished(limit: Int) async throws -> [ChatMessage]
    /// Marks the events of `id` up to `version` published.
    func markPublished(_ id: String, version: Int64) async throws
}

/// A message to store: the hub has checked its fields.
public struct NewChatMessage: Sendable {
    /// `msg_` and 32 hex digits.
    public var id: String
    /// The user who sends it.
    public var sender: String
    /// The channel, or nil for a direct message.
    public var channelID: String?
    /// The recipient of a direct message, or nil for a channel message.
    public var recipientID: String?
    /// The text.
    public var text: String
    /// A JSON object's text, or nil.
    public var metadata: String?

    /// A message to store.
    public init(id: String, sender: String, channelID: String?, recipientID: String?, text: String, metadata: String?) {
        self.id = id
        self.sender = sender
        self.channelID = channelID
        self.recipientID = recipientID
        self.text = text
        self.metadata = metadata
    }
}

/// What a `PATCH` changes.
public struct ChatMessagePatch: Sendable {
    /// The new text; nil keeps it.
    public var text: String?
    /// nil keeps the metadata; `.some(nil)` removes it; `.some(json)` replaces it.
    public var metadata: String??

    /// A change.
    public init(text: String? = nil, metadata: String?? = nil) {
        self.text = text
        self.metadata = metadata
    }
}

/// Which messages a listing returns: newest first, before a sequence, of a channel or a user.
public struct ChatMessageQuery: Sendable {
    /// Only this channel's messages.
    public var channelID: String?
    /// Only messages this user sent or received directly.
    public var user: String?
    /// Only messages with a lower sequence (the previous page's last `sequence`).
    public var beforeSequence: Int64?
    /// At most this many.
    public var limit: Int

    /// A query.
    public init(channelID: String? = nil, user: String? = nil, beforeSequence: Int64? = nil, limit: Int = 50) {
        self.channelID = channelID
        self.user = user
        self.beforeSequence = beforeSequence
        self.limit = limit
    }
}
