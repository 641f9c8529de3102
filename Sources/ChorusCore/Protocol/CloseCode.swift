/// WebSocket close codes the hub uses (protocol v1).
public struct CloseCode: RawRepresentable, Hashable, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let normal = CloseCode(rawValue: 1000)
    /// The hub is shutting down; clients reconnect (to another node or after restart).
    public static let goingAway = CloseCode(rawValue: 1001)
    public static let protocolError = CloseCode(rawValue: 1002)
    /// A text frame that is not valid UTF-8.
    public static let invalidPayload = CloseCode(rawValue: 1007)
    public static let policyViolation = CloseCode(rawValue: 1008)
    public static let messageTooLarge = CloseCode(rawValue: 1009)
    public static let internalError = CloseCode(rawValue: 1011)
    public static let tokenInvalid = CloseCode(rawValue: 4001)
    public static let forbidden = CloseCode(rawValue: 4003)
    /// The client fell too far behind; it reconnects and recovers from history.
    public static let slowConsumer = CloseCode(rawValue: 4008)
    public static let rateLimited = CloseCode(rawValue: 4029)
}
