public import ChorusCore

/// Who is in a channel's topic (namespaces with `presence: true`): ``ChorusChannel/presence``.
///
/// The list is the hub's `presence_state` with every later `presence_diff` applied. After a
/// reconnection the client joins again with the last meta, and the new state replaces the list
/// (its differences come as changes), as chorus.js does.
///
/// In a large room, join with ``PresencePaging`` (`limit`): the join is answered with the oldest
/// few members and the counts, and the rest of the list comes in pages in the background
/// (``isComplete`` false until the last; ``counts`` the hub's meanwhile).
public struct ChorusPresence: Sendable {
    /// The client it belongs to.
    public let client: ChorusClient
    /// The topic.
    public let topic: String

    /// Joins with `meta` (a value that encodes as a JSON object: status, name, cursor…) and
    /// returns the members, this connection included. Joining subscribes the connection to the
    /// topic's diffs. While offline it waits for the connection; joining again updates the meta.
    /// With `paging`, the answer lists `paging.limit` members (the rest follows in pages).
    @discardableResult
    public func join(meta: some Encodable & Sendable = [String: String](), paging: PresencePaging = .whole) async throws -> [PresenceMember] {
        try await self.client.presenceJoin(self.topic, meta: try ChorusClient.metaJSON(meta), paging: paging)
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
    /// may) and returns it; changes from the list before come on ``changes()``. With `paging`
    /// (nil: as the last join or sync asked), it returns the first page's list and the rest follows.
    @discardableResult
    public func sync(paging: PresencePaging? = nil) async throws -> [PresenceMember] {
        try await self.client.presenceSync(self.topic, paging: paging)
    }

    /// One page of the hub's list (at most `limit` members, 0…1,000, after `after`: a page's
    /// ``PresenceListPage/next``), without changing ``list``.
    public func page(limit: Int? = nil, after: PresenceCursor? = nil) async throws -> PresenceListPage {
        try await self.client.presencePage(self.topic, PresencePage(limit: limit, after: after))
    }

    /// Whether ``list`` holds every member (false while pages of it are still to come).
    public var isComplete: Bool {
        get async { await self.client.presenceTable(self.topic).isComplete }
    }

    /// Connections and distinct users: the hub's counts as of the latest page while pages are to
    /// come, else those of ``list``.
    public var counts: PresenceCounts {
        get async { await self.client.presenceTable(self.topic).counts }
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

/// How a join or sync asks for the list: all of it (``whole``), or `limit` members first and the
/// rest in pages of `pageSize` (`walk` false: not at all).
public struct PresencePaging: Sendable, Hashable {
    /// Members in the answer (0…1,000, the oldest, with the counts); nil: the whole list.
    public var limit: Int?
    /// Members per page of the rest (1…1,000).
    public var pageSize: Int
    /// Whether to ask for the rest of the list.
    public var walk: Bool

    /// The whole list in the answer, as without paging.
    public static let whole = PresencePaging()

    /// `limit` members first, then pages of `pageSize` while `walk`.
    public init(limit: Int? = nil, pageSize: Int = PresencePage.maxLimit, walk: Bool = true) {
        self.limit = limit
        self.pageSize = pageSize
        self.walk = walk
    }

    /// Itself, or `bad_request` when a bound is out of range.
    func checked() throws -> PresencePaging {
        if let limit, !(0...PresencePage.maxLimit).contains(limit) {
            throw ChorusClientError(.badRequest, "presence limit must be from 0 to \(PresencePage.maxLimit)")
        }
        guard (1...PresencePage.maxLimit).contains(self.pageSize) else {
            throw ChorusClientError(.badRequest, "presence page size must be from 1 to \(PresencePage.maxLimit)")
        }
        return self
    }
}

/// A page of a topic's members as the hub answered ``ChorusPresence/page(limit:after:)``.
public struct PresenceListPage: Sendable {
    /// Oldest first.
    public var members: [PresenceMember]
    /// The topic's counts (of the whole list).
    public var counts: PresenceCounts
    /// Where the next page starts; nil when this one ends the list.
    public var next: PresenceCursor?
}

extension ChorusChannel {
    /// The topic's presence: join, update, leave, members and their changes.
    public var presence: ChorusPresence {
        ChorusPresence(client: self.client, topic: self.name)
    }
}
