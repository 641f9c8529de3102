/// Who is on a connection or calling the API.
public struct Identity: Sendable, Hashable {
    /// The token's `sub`; nil for an anonymous client.
    public var user: String?
    /// When the token expires, in milliseconds since the Unix epoch.
    public var expiresAt: Int64?

    public static let anonymous = Identity(user: nil, expiresAt: nil)

    public init(user: String?, expiresAt: Int64?) {
        self.user = user
        self.expiresAt = expiresAt
    }
}
