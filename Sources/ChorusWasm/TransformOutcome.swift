/// What a transform decided for one message.
public enum TransformOutcome: Sendable, Equatable {
    /// Deliver the message unchanged.
    case keep
    /// Deliver nothing.
    case drop
    /// Deliver these bytes as the message's data (the hub checks they are JSON).
    case replace([UInt8])
    /// The module refused the message, with its reason.
    case error(String)
}
