public import ChorusCore

/// What the client does when a connection ends (chorus.js's `closePolicy`).
public enum CloseAction: Sendable, Hashable {
    /// Connect again after the backoff.
    case reconnect
    /// Get a new token from the token provider, then connect again.
    case refreshToken
    /// Stop: the hub asked not to come back, or trying again cannot help.
    case stop

    /// Close codes after which, without a `disconnect` frame, the client stops: a normal close,
    /// a protocol error, invalid UTF-8, a message too large. Every other end is worth a retry.
    static let finalCodes: Set<UInt16> = [1000, 1002, 1007, 1009]

    /// Decides from the close code and the hub's `disconnect` frame, if it sent one: its
    /// `reason` counts over its `reconnect`, and both over the close code.
    public static func after(closeCode: UInt16?, disconnect: DisconnectNotice?) -> CloseAction {
        // An expired token is worth renewing, whether it expired while connected or before.
        if disconnect?.reason == .tokenExpired { return .refreshToken }
        let tokenCode = CloseCode.tokenInvalid.rawValue
        if closeCode == tokenCode || disconnect?.code == tokenCode {
            // Any other 4001 is final (token_invalid), unless a v1 hub asks for a reconnection.
            return disconnect?.reconnect == true ? .refreshToken : .stop
        }
        if let disconnect { return disconnect.reconnect ? .reconnect : .stop }
        if let closeCode, Self.finalCodes.contains(closeCode) { return .stop }
        return .reconnect
    }
}

/// The hub's `disconnect` frame, sent just before it closes a connection.
public struct DisconnectNotice: Sendable, Hashable {
    /// The close code that follows.
    public var code: UInt16
    /// Why, as a code (v1.1); nil from a v1 hub, whose `reason` is text.
    public var reason: ReasonCode?
    /// The text for people.
    public var message: String
    /// Whether the hub invites the client back.
    public var reconnect: Bool

    /// A `disconnect` frame's fields.
    public init(code: UInt16, reason: ReasonCode?, message: String, reconnect: Bool) {
        self.code = code
        self.reason = reason
        self.message = message
        self.reconnect = reconnect
    }
}
