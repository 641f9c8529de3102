public import NIOCore

/// How long to wait before each reconnection attempt: exponential from ``initial`` up to
/// ``maximum``, with "equal jitter" (half the delay fixed, half random) so nodes that lost
/// the same server do not come back in lockstep.
public struct RedisBackoff: Sendable, Hashable {
    /// The delay before the first retry (before jitter). Default 100 ms.
    public var initial: TimeAmount
    /// The longest delay. Default 5 s.
    public var maximum: TimeAmount

    /// A backoff from `initial` doubling up to `maximum`.
    public init(initial: TimeAmount = .milliseconds(100), maximum: TimeAmount = .seconds(5)) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The delay before retry number `attempt` (0 for the first) with `random` in 0..<1.
    public func delay(attempt: Int, random: Double) -> TimeAmount {
        let doublings = min(max(attempt, 0), 32)
        let uncapped = self.initial.nanoseconds.multipliedReportingOverflow(by: Int64(1) << doublings)
        let base = uncapped.overflow ? self.maximum.nanoseconds : min(uncapped.partialValue, self.maximum.nanoseconds)
        return .nanoseconds(base / 2 + Int64(Double(base / 2) * min(max(random, 0), 1)))
    }
}
