/// A message on its way from the hub that accepted it to the subscribers of every node: what a
/// ``Broker`` carries. Never encoded bytes: each node encodes a message once, on arrival.
public struct BrokerMessage: Sendable {
    /// Who gets it.
    public enum Target: Sendable {
        /// Every subscriber of the topic (and of the patterns matching it).
        case topic(Topic)
        /// Every connection of a user (the `direct` topic).
        case user(String)
        /// Closes every connection of a user, after a `disconnect` frame saying `reason`: a
        /// control message, in order with the user's `direct` messages. Its envelope only names
        /// it (message id, time); nothing of it is delivered.
        case disconnect(user: String, reason: String, reconnect: Bool)
    }

    /// The message; on a topic that keeps history, with its `offset` and `epoch`.
    public var envelope: MessageEnvelope
    /// Who gets it: a topic's subscribers, or every connection of a user.
    public var target: Target
    /// The store's commit sequence, on a topic that keeps history (the SSE event id).
    public var storeSequence: UInt64?
    /// The connection that published it, when it must not get it back.
    public var excludedConnection: UInt64?

    /// A message for `target`; `storeSequence` once a store committed it, `excludedConnection` for a publisher that must not get it back.
    public init(envelope: MessageEnvelope, target: Target, storeSequence: UInt64? = nil, excludedConnection: UInt64? = nil) {
        self.envelope = envelope
        self.target = target
        self.storeSequence = storeSequence
        self.excludedConnection = excludedConnection
    }
}
