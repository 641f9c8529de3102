/// The members of one topic: by client, and grouped by user with each user's connections.
/// A pure value (no clock, no I/O): the caller supplies `joined_at`.
public struct PresenceRoster: Sendable {
    /// Members by client id.
    public private(set) var members: [String: PresenceMember] = [:]
    /// The clients of each user (anonymous members are grouped under their client id).
    public private(set) var clientsByUser: [String: Set<String>] = [:]
    /// The members oldest first, kept in order as they change: every join answers with the whole
    /// list, and sorting 10,000 members for each join of a burst cost more than the rest of it.
    public private(set) var sortedMembers: [PresenceMember] = []

    /// An empty roster.
    public init() {}

    /// A roster of `members` (a later one with the same client is an update of the earlier),
    /// sorted once rather than kept in order member by member.
    public init(members: some Sequence<PresenceMember>) {
        for member in members { _ = self.record(member) }
        self.sortedMembers = self.members.values.sorted(by: Self.precedes)
    }

    /// What a ``join(_:)`` did.
    public enum Join: Sendable, Equatable {
        /// A new member.
        case joined(PresenceMember)
        /// A member that was present already, now with `member`'s meta (its `joined_at` kept).
        case updated(old: PresenceMember, new: PresenceMember)
    }

    /// Connections and distinct users present.
    public var counts: PresenceCounts {
        PresenceCounts(clients: self.members.count, users: self.clientsByUser.count)
    }

    /// Whether nobody is present.
    public var isEmpty: Bool { self.members.isEmpty }

    /// Adds `member`, or replaces the meta of the member with its client id (keeping its
    /// `joined_at`: joining again is an update).
    public mutating func join(_ member: PresenceMember) -> Join {
        let change = self.record(member)
        switch change {
        case .joined(let joined): self.sortedMembers.insert(joined, at: self.position(of: joined))
        // `joined_at` and the client are kept: the member stays where it was.
        case .updated(_, let new): self.sortedMembers[self.position(of: new)] = new
        }
        return change
    }

    /// ``join(_:)`` in `members` and `clientsByUser` only.
    private mutating func record(_ member: PresenceMember) -> Join {
        if let old = self.members[member.client] {
            var new = member
            new.joinedAt = old.joinedAt
            new.user = old.user
            self.members[member.client] = new
            return .updated(old: old, new: new)
        }
        self.members[member.client] = member
        self.clientsByUser[Self.userKey(of: member), default: []].insert(member.client)
        return .joined(member)
    }

    /// Removes the member of `client`; nil when it was not present.
    public mutating func leave(client: String) -> PresenceMember? {
        guard let member = self.members.removeValue(forKey: client) else { return nil }
        let key = Self.userKey(of: member)
        self.clientsByUser[key]?.remove(client)
        if self.clientsByUser[key]?.isEmpty == true { self.clientsByUser[key] = nil }
        self.sortedMembers.remove(at: self.position(of: member))
        return member
    }

    /// Oldest first, ties by client id, so a snapshot reads in a stable order (and a
    /// ``PresenceCursor`` marks a place in it).
    private static func precedes(_ first: PresenceMember, _ second: PresenceMember) -> Bool {
        first.joinedAt != second.joinedAt ? first.joinedAt < second.joinedAt : first.client < second.client
    }

    /// At most `page.limit` members after `page.after`, oldest first, and the cursor of the
    /// page's last member when members remain after it. Costs the page, not the roster: a binary
    /// search for where it starts, and a copy of its members.
    public func page(_ page: PresencePage) -> (members: [PresenceMember], next: PresenceCursor?) {
        var start = 0
        if let after = page.after {
            // The first member after the cursor.
            var high = self.sortedMembers.count
            while start < high {
                let middle = (start + high) / 2
                let member = self.sortedMembers[middle]
                if member.joinedAt != after.joinedAt ? member.joinedAt < after.joinedAt : member.client <= after.client { start = middle + 1 } else { high = middle }
            }
        }
        let end = page.limit.map { min(self.sortedMembers.count, start + $0) } ?? self.sortedMembers.count
        let members = Array(self.sortedMembers[start..<end])
        guard end < self.sortedMembers.count, let last = members.last else { return (members, nil) }
        return (members, PresenceCursor(after: last))
    }

    /// Where `member` is, or goes, in ``sortedMembers`` (a binary search).
    private func position(of member: PresenceMember) -> Int {
        var (low, high) = (0, self.sortedMembers.count)
        while low < high {
            let middle = (low + high) / 2
            if Self.precedes(self.sortedMembers[middle], member) { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// The members of `user`, one per connection.
    public func members(ofUser user: String) -> [PresenceMember] {
        (self.clientsByUser[user] ?? []).compactMap { self.members[$0] }
    }

    /// Anonymous members share no user: each counts as its own.
    private static func userKey(of member: PresenceMember) -> String {
        member.user ?? "\u{0}" + member.client
    }
}
