/// WebSocket close codes the hub uses (protocol v1).
public struct CloseCode: RawRepresentable, Hashable, Sendable {
    /// The code on the wire.
    public let rawValue: UInt16
    /// The close code `rawValue`, named or not.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// A normal close.
    public static let normal = CloseCode(rawValue: 1000)
    /// The hub is shutting down; clients reconnect (to another node or after restart).
    public static let goingAway = CloseCode(rawValue: 1001)
    /// A frame that breaks RFC 6455.
    public static let protocolError = CloseCode(rawValue: 1002)
    /// A text frame that is not valid UTF-8.
    public static let invalidPayload = CloseCode(rawValue: 1007)
    /// A policy violation (reserved in protocol v1, not sent yet).
    public static let policyViolation = CloseCode(rawValue: 1008)
    /// A frame or message over `max_message_size`.
    public static let messageTooLarge = CloseCode(rawValue: 1009)
    /// The hub failed unexpectedly (reserved in protocol v1, not sent yet).
    public static let internalError = CloseCode(rawValue: 1011)
    /// The token is invalid or expired; the client needs a new one.
    public static let tokenInvalid = CloseCode(rawValue: 4001)
    /// Not allowed (reserved in protocol v1, not sent yet).
    public static let forbidden = CloseCode(rawValue: 4003)
    /// The client fell too far behind; it reconnects and recovers from history.
    public static let slowConsumer = CloseCode(rawValue: 4008)
    /// The client kept sending far past its rate limit.
    public static let rateLimited = CloseCode(rawValue: 4029)
}
