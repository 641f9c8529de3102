public import ChorusCore

/// Who is on a connection or calling the API.
public struct Identity: Sendable, Hashable {
    /// The token's `sub`; nil for an anonymous client.
    public var user: String?
    /// When the token expires, in milliseconds since the Unix epoch.
    public var expiresAt: Int64?
    /// The token's `subscribe` and `publish` lists; nil lists allow every topic.
    public var permissions: TokenPermissions

    /// An anonymous client: no user, no expiry, no restriction of its own.
    public static let anonymous = Identity(user: nil, expiresAt: nil)

    /// The identity of `user`, whose token expires at `expiresAt`, with `permissions`.
    public init(user: String?, expiresAt: Int64?, permissions: TokenPermissions = .unrestricted) {
        self.user = user
        self.expiresAt = expiresAt
        self.permissions = permissions
    }
}

/// The topic patterns a token lets its client subscribe and publish to, and whether it may
/// send `direct` messages.
public struct TokenPermissions: Sendable, Hashable {
    /// nil: any topic (as far as namespaces allow).
    public var subscribe: [TopicPattern]?
    /// nil: any topic (as far as namespaces allow).
    public var publish: [TopicPattern]?
    /// The `direct` claim. nil: allowed unless `publish` restricts the token (a token limited
    /// to some topics must not reach every user by another route).
    public var direct: Bool?

    /// No list: every topic, as far as namespaces allow.
    public static let unrestricted = TokenPermissions(subscribe: nil, publish: nil)

    /// Permissions from a token's claims.
    public init(subscribe: [TopicPattern]?, publish: [TopicPattern]?, direct: Bool? = nil) {
        self.subscribe = subscribe
        self.publish = publish
        self.direct = direct
    }

    /// Whether the token lets its client send `direct` messages (the hub's `direct_messages` aside).
    var allowsDirect: Bool {
        self.direct ?? (self.publish == nil)
    }

    /// Parses a claim's pattern list; a pattern that does not parse makes the token invalid.
    static func patterns(_ texts: [String]?, claim: String) throws(ProtocolError) -> [TopicPattern]? {
        guard let texts else { return nil }
        var patterns: [TopicPattern] = []
        for text in texts {
            do {
                patterns.append(try TopicPattern(text))
            } catch {
                throw ProtocolError(.unauthorized, "token rejected: its '\(claim)' claim holds an invalid pattern \(ProtocolError.quoted(text)): \(error.description)")
            }
        }
        return patterns
    }
}
