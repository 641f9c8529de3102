/// Reconnection delays: exponential backoff with full jitter, as the browser client's
/// `backoffDelay` computes them.
///
/// The delay before attempt *n* (counted from 0) is a uniformly random time between 0 and
/// `min(cap, base · 2ⁿ)`. Full jitter spreads the clients of a restarted hub over the whole
/// window instead of sending them back in waves.
public struct Backoff: Sendable, Hashable {
    /// The ceiling of the first attempt's delay.
    public var base: Duration
    /// The largest ceiling.
    public var cap: Duration

    /// Delays from `base` (1 s by default) doubling up to `cap` (30 s by default).
    public init(base: Duration = .seconds(1), cap: Duration = .seconds(30)) {
        self.base = base
        self.cap = cap
    }

    /// The longest delay attempt `attempt` may wait: `min(cap, base · 2^attempt)`.
    public func ceiling(attempt: Int) -> Duration {
        // 2^31 seconds is far past any sensible cap, and the shift cannot overflow.
        let doubled = self.base * (1 << min(max(attempt, 0), 31))
        return min(self.cap, doubled)
    }

    /// The delay before attempt `attempt`, for `random` in `0..<1` (injected so tests need no clock).
    public func delay(attempt: Int, random: Double) -> Duration {
        self.ceiling(attempt: attempt) * min(max(random, 0), 1)
    }

    /// The delay before attempt `attempt`, with the system's random numbers.
    public func delay(attempt: Int) -> Duration {
        self.delay(attempt: attempt, random: Double.random(in: 0..<1))
    }
}
