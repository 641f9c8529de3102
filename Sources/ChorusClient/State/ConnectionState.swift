/// Where a ``ChorusClient``'s connection stands, as in the browser client.
public enum ConnectionState: String, Sendable, Hashable {
    /// The first attempt after ``ChorusClient/connect()``.
    case connecting
    /// The hub accepted the connection; subscriptions and queued publishes have been sent.
    case connected
    /// A connection was lost or could not be made: the client waits out the backoff, then retries.
    case reconnecting
    /// Never started, closed, or the hub asked the client not to come back.
    case disconnected
    /// The client gave up: reconnection attempts ran out, or the token could not be renewed.
    case error
}
