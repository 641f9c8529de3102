public import ChorusCore
public import NIOCore

/// One change of a topic's member list, for one connection.
public enum PresenceChange: Sendable, Hashable {
    /// A connection joined.
    case join(PresenceMember)
    /// A connection left.
    case leave(PresenceMember)
    /// A connection changed its meta (the hub's leave and join of one client in one diff).
    case update(PresenceMember, previous: PresenceMember)
}

/// The members of a topic who are one user: a user with two tabs is one entry of two connections.
public struct PresenceUser: Sendable, Hashable {
    /// The user; nil for an anonymous connection (its own user).
    public var user: String?
    /// The user id, or the client id of an anonymous connection.
    public var key: String
    /// The meta of the user's newest connection.
    public var meta: ByteBuffer
    /// When the user's first connection joined, in milliseconds since the Unix epoch.
    public var joinedAt: Int64
    /// The user's connections, oldest first.
    public var connections: [PresenceMember]
}

/// A topic's member list as the hub told it: a `presence_state` with every later
/// `presence_diff` applied, a diff's leaves first, then its joins, keyed by client id
/// (docs/protocol.md "Presence"). A pure value: the client feeds it frames, it returns the changes.
///
/// Diffs that come while a state is awaited (``awaitingState``) are kept and applied again
/// after the state: in a cluster a diff can overtake the state that answers a join.
///
/// A list can also come in pages (``applyPage(_:counts:more:first:)``): each page adds its
/// members; who was listed before and is in no page (nor joined meanwhile) leaves only when the
/// last page is in, so a reconnection's list shows nobody leaving and coming back.
public struct PresenceTable: Sendable {
    private var entries: [String: (order: Int, member: PresenceMember)] = [:]
    private var nextOrder = 0
    private var early: [(joins: [PresenceMember], leaves: [PresenceMember])] = []
    /// While a list comes in pages: the clients its pages listed, or that joined since its first.
    private var seen: Set<String>?
    /// While a list comes in pages: the hub's counts as of its latest page.
    public private(set) var pageCounts: PresenceCounts?
    /// `presence_state` answers on their way; while any is, diffs are kept for replay.
    public var awaitingState = 0 {
        didSet { if self.awaitingState == 0 { self.early.removeAll() } }
    }

    /// An empty list.
    public init() {}

    /// Every connection in the topic, oldest first.
    public var members: [PresenceMember] {
        self.entries.values.sorted { $0.order < $1.order }.map(\.member)
    }

    /// The member of connection `client`, if present.
    public func member(client: String) -> PresenceMember? {
        self.entries[client]?.member
    }

    /// The members grouped by user, in order of each user's first connection.
    public var users: [PresenceUser] {
        var users: [PresenceUser] = []
        var index: [String: Int] = [:]
        for member in self.members {
            let key = member.user ?? member.client
            if let at = index[key] {
                users[at].connections.append(member)
                if member.joinedAt >= users[at].joinedAt { users[at].meta = member.meta }
            } else {
                index[key] = users.count
                users.append(PresenceUser(user: member.user, key: key, meta: member.meta, joinedAt: member.joinedAt, connections: [member]))
            }
        }
        return users
    }

    /// Whether the list holds every member (false while pages of it are still to come).
    public var isComplete: Bool { self.seen == nil }

    /// Connections and distinct users: the hub's counts while pages are to come, else the list's.
    public var counts: PresenceCounts {
        self.pageCounts ?? PresenceCounts(clients: self.entries.count, users: Set(self.entries.values.map { $0.member.user ?? $0.member.client }).count)
    }

    /// A `presence_state` that is a page of the list (`first`: its first page, answering a join
    /// or a `presence` without `after`): its members are added, with the topic's `counts`; `more`
    /// when pages remain. The last page completes the list: who is in no page and did not join
    /// meanwhile leaves. Then the diffs kept meanwhile apply again.
    public mutating func applyPage(_ members: [PresenceMember], counts: PresenceCounts, more: Bool, first: Bool) -> [PresenceChange] {
        if first || self.seen == nil { self.seen = [] }
        var changes: [PresenceChange] = []
        for member in members {
            self.seen!.insert(member.client)
            let known = self.entries[member.client]
            if let known { self.entries[member.client] = (known.order, member) } else { self.insert(member) }
            changes += Self.announce(member, previous: known?.member)
        }
        self.pageCounts = counts
        if !more, let seen = self.seen {
            self.seen = nil
            self.pageCounts = nil
            for (client, entry) in self.entries.sorted(by: { $0.value.order < $1.value.order }) where !seen.contains(client) {
                self.entries[client] = nil
                changes.append(.leave(entry.member))
            }
            // Oldest first, as the hub lists them.
            let sorted = self.entries.values.map(\.member).sorted { ($0.joinedAt, $0.client) < ($1.joinedAt, $1.client) }
            self.entries = [:]
            for member in sorted { self.insert(member) }
        }
        return changes + self.replayEarly()
    }

    /// A `presence_state`: the list is `members`, then the diffs kept meanwhile apply again.
    public mutating func applyState(_ members: [PresenceMember]) -> [PresenceChange] {
        self.seen = nil
        self.pageCounts = nil
        let previous = self.entries
        self.entries = [:]
        for member in members { self.insert(member) }
        var changes: [PresenceChange] = []
        for (client, entry) in previous.sorted(by: { $0.value.order < $1.value.order }) where self.entries[client] == nil {
            changes.append(.leave(entry.member))
        }
        for member in members { changes += Self.announce(member, previous: previous[member.client]?.member) }
        return changes + self.replayEarly()
    }

    /// A state is in: one fewer awaited, and the diffs kept meanwhile apply again.
    private mutating func replayEarly() -> [PresenceChange] {
        // Taken before the count goes down: reaching zero forgets them.
        let early = self.early
        if self.awaitingState > 0 { self.awaitingState -= 1 }
        var changes: [PresenceChange] = []
        for diff in early { changes += self.applyDiff(joins: diff.joins, leaves: diff.leaves, keep: false) }
        return changes
    }

    /// A `presence_diff`. An update (the same client in both lists) keeps its place.
    public mutating func applyDiff(joins: [PresenceMember], leaves: [PresenceMember]) -> [PresenceChange] {
        self.applyDiff(joins: joins, leaves: leaves, keep: true)
    }

    /// The list is no longer followed (the connection unsubscribed): everyone leaves.
    public mutating func clear() -> [PresenceChange] {
        let changes = self.members.map(PresenceChange.leave)
        self.entries = [:]
        self.seen = nil
        self.pageCounts = nil
        return changes
    }

    private mutating func applyDiff(joins: [PresenceMember], leaves: [PresenceMember], keep: Bool) -> [PresenceChange] {
        if keep, self.awaitingState > 0 { self.early.append((joins, leaves)) }
        // A list coming in pages: who joins meanwhile is listed, even where no later page has it.
        for member in joins { self.seen?.insert(member.client) }
        let rejoining = Set(joins.map(\.client))
        var changes: [PresenceChange] = []
        for member in leaves where !rejoining.contains(member.client) {
            if let known = self.entries.removeValue(forKey: member.client) { changes.append(.leave(known.member)) }
        }
        for member in joins {
            let known = self.entries[member.client]
            if let known {
                self.entries[member.client] = (known.order, member)
            } else {
                self.insert(member)
            }
            changes += Self.announce(member, previous: known?.member)
        }
        return changes
    }

    private mutating func insert(_ member: PresenceMember) {
        self.entries[member.client] = (self.nextOrder, member)
        self.nextOrder += 1
    }

    private static func announce(_ member: PresenceMember, previous: PresenceMember?) -> [PresenceChange] {
        guard let previous else { return [.join(member)] }
        return previous == member ? [] : [.update(member, previous: previous)]
    }
}
