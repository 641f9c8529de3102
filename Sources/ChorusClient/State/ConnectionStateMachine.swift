/// The connection's states and reconnection schedule, without I/O or clocks: the client feeds
/// it what happened and does what it answers.
public struct ConnectionStateMachine: Sendable {
    /// What the client does next.
    public enum Effect: Sendable, Hashable {
        /// Open a connection now.
        case connect
        /// Wait `delay`, renewing the token first when `refreshToken`, then open a connection.
        case retry(after: Duration, refreshToken: Bool)
        /// Stop for good (``ConnectionState/disconnected``).
        case stop
        /// Give up (``ConnectionState/error``): the attempts ran out.
        case giveUp
        /// Nothing to do.
        case none
    }

    /// The current state.
    public private(set) var state: ConnectionState = .disconnected
    /// Reconnection attempts since the last connection that stayed up.
    public private(set) var attempt = 0
    /// How delays grow.
    public let backoff: Backoff
    /// How many reconnection attempts may fail in a row before the client gives up; nil: no limit.
    public let maxAttempts: Int?
    /// A connection that stayed up this long resets the attempt count; one dropped sooner keeps
    /// the delays growing, so a hub that accepts and drops at once is not hammered.
    public let stableAfter: Duration

    /// A machine in ``ConnectionState/disconnected``.
    public init(backoff: Backoff = Backoff(), maxAttempts: Int? = nil, stableAfter: Duration = .seconds(5)) {
        self.backoff = backoff
        self.maxAttempts = maxAttempts
        self.stableAfter = stableAfter
    }

    /// `connect()` was called: from a final state, start over.
    public mutating func start() -> Effect {
        guard self.state == .disconnected || self.state == .error else { return .none }
        self.state = .connecting
        self.attempt = 0
        return .connect
    }

    /// The hub accepted the connection and the client has resent its subscriptions and queue.
    public mutating func opened() {
        guard self.state == .connecting || self.state == .reconnecting else { return }
        self.state = .connected
    }

    /// A connection ended (or could not be made) and the close policy says `action`; `upFor` is
    /// how long it was connected (nil: it never was). `random` picks the jittered delay.
    public mutating func lost(_ action: CloseAction, upFor: Duration?, random: Double) -> Effect {
        guard self.state != .disconnected, self.state != .error else { return .none }
        if let upFor, upFor >= self.stableAfter { self.attempt = 0 }
        switch action {
        case .stop:
            self.state = .disconnected
            return .stop
        case .reconnect, .refreshToken:
            if let maxAttempts, self.attempt >= maxAttempts {
                self.state = .error
                return .giveUp
            }
            let delay = self.backoff.delay(attempt: self.attempt, random: random)
            self.attempt += 1
            self.state = .reconnecting
            return .retry(after: delay, refreshToken: action == .refreshToken)
        }
    }

    /// The client gave up for a reason of its own (no way to renew an expired token).
    public mutating func fail() {
        self.state = .error
    }

    /// `close()` was called.
    public mutating func close() {
        self.state = .disconnected
    }
}
