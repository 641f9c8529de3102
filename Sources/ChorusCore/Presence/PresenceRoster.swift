/// The members of one topic: by client, and grouped by user with each user's connections.
/// A pure value (no clock, no I/O): the caller supplies `joined_at`.
public struct PresenceRoster: Sendable {
    /// Members by client id.
    public private(set) var members: [String: PresenceMember] = [:]
    /// The clients of each user (anonymous members are grouped under their client id).
    public private(set) var clientsByUser: [String: Set<String>] = [:]

    /// An empty roster.
    public init() {}

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
        return member
    }

    /// Every member, oldest first (ties by client id), so a snapshot reads in a stable order.
    public var sortedMembers: [PresenceMember] {
        self.members.values.sorted { ($0.joinedAt, $0.client) < ($1.joinedAt, $1.client) }
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
