public import ChorusCore

/// Who is in a channel's topic (namespaces with `presence: true`): ``ChorusChannel/presence``.
///
/// The list is the hub's `presence_state` with every later `presence_diff` applied. After a
/// reconnection the client joins again with the last meta, and the new state replaces the list
/// (its differences come as changes), as chorus.js does.
public struct ChorusPresence: Sendable {
    /// The client it belongs to.
    public let client: ChorusClient
    /// The topic.
    public let topic: String

    /// Joins with `meta` (a value that encodes as a JSON object: status, name, cursor…) and
    /// returns the members, this connection included. Joining subscribes the connection to the
    /// topic's diffs. While offline it waits for the connection; joining again updates the meta.
    @discardableResult
    public func join(meta: some Encodable & Sendable = [String: String]()) async throws -> [PresenceMember] {
        try await self.client.presenceJoin(self.topic, meta: try ChorusClient.metaJSON(meta))
    }

    /// Replaces this member's meta; kept for the rejoin while offline. Throws
    /// ``ChorusClientError/Code/notJoined`` before ``join(meta:)``.
    public func update(meta: some Encodable & Sendable) async throws {
        try await self.client.presenceUpdate(self.topic, meta: try ChorusClient.metaJSON(meta))
    }

    /// Leaves the topic's members (the list stays followed, so it stays current).
    public func leave() async throws {
        try await self.client.presenceLeave(self.topic)
    }

    /// Asks the hub for the whole list again (members, and clients that may read the topic,
    /// may) and returns it; changes from the list before come on ``changes()``.
    @discardableResult
    public func sync() async throws -> [PresenceMember] {
        try await self.client.presenceSync(self.topic)
    }

    /// The hub's counts of the topic (connections, distinct users), without the list.
    public func stats() async throws -> PresenceCounts {
        try await self.client.presenceStats(self.topic)
    }

    /// Every connection in the topic, oldest first.
    public var list: [PresenceMember] {
        get async { await self.client.presenceTable(self.topic).members }
    }

    /// The members grouped by user (each with its connections), in order of first connection.
    public var members: [PresenceUser] {
        get async { await self.client.presenceTable(self.topic).users }
    }

    /// Joins, leaves and updates as the hub's diffs (and states) apply them, until the client
    /// closes or the stream is dropped.
    public func changes() async -> AsyncStream<PresenceChange> {
        await self.client.presenceChanges(self.topic)
    }
}

extension ChorusChannel {
    /// The topic's presence: join, update, leave, members and their changes.
    public var presence: ChorusPresence {
        ChorusPresence(client: self.client, topic: self.name)
    }
}
