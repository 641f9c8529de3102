/// Where a page of a topic's member list ends: the `joined_at` and client of its last member,
/// the key the list is ordered by (oldest first, ties by client id). Sent to clients as the
/// opaque `next` of a `presence_state` and given back as `after`, it survives joins and leaves
/// between pages: the next page starts with whoever comes after that key in the list as it is
/// then (a member that left is not there, one that joined since comes after everyone).
public struct PresenceCursor: Sendable, Hashable, Comparable {
    /// The last member's `joined_at`.
    public var joinedAt: Int64
    /// The last member's client id.
    public var client: String

    /// The longest `after` the hub reads, in characters (as the OpenAPI document's
    /// `maxLength` counts): a client id is far shorter.
    public static let maxLength = 512

    /// The cursor after `member`.
    public init(after member: PresenceMember) {
        self.joinedAt = member.joinedAt
        self.client = member.client
    }

    /// The cursor after a member with this key.
    public init(joinedAt: Int64, client: String) {
        self.joinedAt = joinedAt
        self.client = client
    }

    /// Reads the text of ``text``; nil when it is not one.
    public init?(_ text: some StringProtocol) {
        // The colon is looked for among scalars, not characters: a client id that starts with a
        // combining mark or an emoji modifier joins the colon into one character.
        let scalars = String(text).unicodeScalars
        guard scalars.count <= Self.maxLength, let colon = scalars.firstIndex(of: ":"),
            let joinedAt = Int64(Substring(scalars[..<colon])), joinedAt >= 0
        else { return nil }
        let client = scalars[scalars.index(after: colon)...]
        guard !client.isEmpty else { return nil }
        self.joinedAt = joinedAt
        self.client = String(Substring(client))
    }

    /// `<joined_at>:<client>`; clients treat it as opaque.
    public var text: String { "\(self.joinedAt):\(self.client)" }

    /// In the list's order.
    public static func < (first: PresenceCursor, second: PresenceCursor) -> Bool {
        first.joinedAt != second.joinedAt ? first.joinedAt < second.joinedAt : first.client < second.client
    }
}

/// Which part of a topic's member list a `presence_join`, `presence` or the HTTP list asks for:
/// at most `limit` members after `after` (nil: from the oldest), oldest first.
public struct PresencePage: Sendable, Hashable {
    /// At most this many members; nil: all of them (what a request without `limit` gets).
    public var limit: Int?
    /// The `next` of the page before; nil: from the start.
    public var after: PresenceCursor?

    /// The largest `limit` a request may give.
    public static let maxLimit = 1_000

    /// The whole list.
    public static let whole = PresencePage()

    /// At most `limit` members after `after`.
    public init(limit: Int? = nil, after: PresenceCursor? = nil) {
        self.limit = limit
        self.after = after
    }

    /// Whether this is the whole list (no limit, from the start).
    public var isWhole: Bool { self.limit == nil && self.after == nil }

    /// `limit` read from a request: a whole number from 0 to ``maxLimit``; `bad_request` naming the field otherwise.
    public static func limit(_ value: Int64?, field: String = "limit") throws(ProtocolError) -> Int? {
        guard let value else { return nil }
        guard (0...Int64(Self.maxLimit)).contains(value) else { throw Self.badLimit(field) }
        return Int(value)
    }

    /// `after` read from a request: a `next` the hub gave; `bad_request` naming the field otherwise.
    public static func after(_ text: String?, field: String = "after") throws(ProtocolError) -> PresenceCursor? {
        guard let text else { return nil }
        guard let cursor = PresenceCursor(text) else {
            throw ProtocolError(.badRequest, "'\(field)' must be the 'next' of a presence_state")
        }
        return cursor
    }

    /// The error for a `limit` that is not a whole number from 0 to ``maxLimit``.
    public static func badLimit(_ field: String = "limit") -> ProtocolError {
        ProtocolError(.badRequest, "'\(field)' must be a whole number from 0 to \(Self.maxLimit)")
    }
}

extension JSONObject {
    /// The `limit` and `after` of a `presence` frame (`after` only when `allowingAfter`: a join
    /// has no cursor); absent or null fields ask for the whole list.
    public func presencePage(allowingAfter: Bool) throws(ProtocolError) -> PresencePage {
        var page = PresencePage()
        if let limit = self["limit"], !limit.isNull {
            guard let value = limit.int64 else { throw PresencePage.badLimit() }
            page.limit = try PresencePage.limit(value)
        }
        if allowingAfter {
            let after: String?
            do {
                after = try self.optionalString("after")
            } catch {
                throw ProtocolError(.badRequest, "'after' must be the 'next' of a presence_state")
            }
            page.after = try PresencePage.after(after)
        } else if self["after"].map({ !$0.isNull }) == true {
            throw ProtocolError(.badRequest, "'after' goes with 'presence', not 'presence_join': join with 'limit', then ask for the next pages")
        }
        return page
    }
}
