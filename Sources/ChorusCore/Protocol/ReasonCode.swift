/// Why the hub refused something or ended a connection, for the client to act on (protocol
/// v1.1): the `reason` of an `error` frame where its `code` alone is ambiguous, and of every
/// `disconnect` frame. Clients never need to parse the human `message`.
///
/// An open set: new reasons are additive, and a client treats one it does not know by the
/// frame's `code` (and, for `disconnect`, its `reconnect`).
public struct ReasonCode: RawRepresentable, Hashable, Sendable {
    /// The reason as it appears on the wire (`token_expired`).
    public let rawValue: String
    /// A reason by its wire name; an unknown one is kept as it is.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The token expired (at connect, or while connected): get a new one and reconnect.
    public static let tokenExpired = ReasonCode(rawValue: "token_expired")
    /// The token is not acceptable (signature, claims, no key configured): another try with it
    /// fails the same way.
    public static let tokenInvalid = ReasonCode(rawValue: "token_invalid")
    /// The hub accepts no anonymous client and none came with the connection: send an `auth`
    /// frame (the connection's `connected` follows it), or reconnect with a token.
    public static let tokenRequired = ReasonCode(rawValue: "token_required")
    /// The hub is shutting down: reconnect (to it once restarted, or to another node).
    public static let shutdown = ReasonCode(rawValue: "shutdown")
    /// The client sent nothing, not even a pong, for `idle_timeout`.
    public static let idleTimeout = ReasonCode(rawValue: "idle_timeout")
    /// Publishing or subscribing far over the connection's rate limit.
    public static let rateLimited = ReasonCode(rawValue: "rate_limited")
    /// The user already has `max_connections_per_user` connections: try again later.
    public static let tooManyConnections = ReasonCode(rawValue: "too_many_connections")
    /// The node lost its cluster connection (Redis) for a while and may have missed messages:
    /// reconnect (to any node) with `since` to recover them.
    public static let resync = ReasonCode(rawValue: "resync")
    /// Closed by `POST /api/users/{user}/disconnect`; the `message` is the caller's.
    public static let kicked = ReasonCode(rawValue: "kicked")
    /// The client broke RFC 6455 (1002) or sent text that is not UTF-8 (1007).
    public static let protocolError = ReasonCode(rawValue: "protocol_error")
    /// A frame or message over the size limit (1009).
    public static let messageTooLarge = ReasonCode(rawValue: "message_too_large")
}
