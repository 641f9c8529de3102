public import NIOCore

/// One connection present in a topic: who it is, what it says about itself, and since when.
public struct PresenceMember: Sendable, Hashable {
    /// The connection's client id (unique on the hub); a member is one connection.
    public var client: String
    /// The connection's user; nil for an anonymous connection.
    public var user: String?
    /// A JSON object the client chose (`{"status":"away","name":"Ada"}`), kept as its bytes.
    public var meta: ByteBuffer
    /// When it joined, in milliseconds since the Unix epoch; an update keeps it.
    public var joinedAt: Int64

    /// `meta` must be the text of a JSON object the hub validated.
    public init(client: String, user: String?, meta: ByteBuffer, joinedAt: Int64) {
        self.client = client
        self.user = user
        self.meta = meta
        self.joinedAt = joinedAt
    }

    /// Writes `{"user":…,"client":…,"meta":{…},"joined_at":…}`.
    public func write(into buffer: inout ByteBuffer) {
        buffer.writeStaticString(#"{"user":"#)
        if let user { buffer.writeJSONString(user) } else { buffer.writeStaticString("null") }
        buffer.writeStaticString(#","client":"#)
        buffer.writeJSONString(self.client)
        buffer.writeStaticString(#","meta":"#)
        buffer.writeImmutableBuffer(self.meta)
        buffer.writeStaticString(#","joined_at":"#)
        buffer.writeString(String(self.joinedAt))
        buffer.writeStaticString("}")
    }

    /// About the bytes ``writeList(_:into:)`` writes for `members` (their ids and meta, and the
    /// fields around them), without encoding them.
    public static func listSizeHint(_ members: [PresenceMember]) -> Int {
        members.reduce(2) { $0 + 64 + $1.client.utf8.count + ($1.user?.utf8.count ?? 4) + $1.meta.readableBytes }
    }

    /// Writes `[member, …]`.
    public static func writeList(_ members: some Sequence<PresenceMember>, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("[")
        for (index, member) in members.enumerated() {
            if index > 0 { buffer.writeStaticString(",") }
            member.write(into: &buffer)
        }
        buffer.writeStaticString("]")
    }
}

/// How many are present in a topic: connections, and distinct users (an anonymous connection
/// counts as a user of its own).
public struct PresenceCounts: Sendable, Equatable {
    /// Connections present.
    public var clients: Int
    /// Distinct users among them.
    public var users: Int

    /// Counts of `clients` connections of `users` users.
    public init(clients: Int, users: Int) {
        self.clients = clients
        self.users = users
    }
}
