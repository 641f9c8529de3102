import ChorusCore
import Synchronization

/// Token buckets by key (an IP address, an API key), shared by every event loop.
///
/// Buckets are created on first use and forgotten once full again, so memory follows the keys
/// active in the last second or so, not every key ever seen.
final class KeyedRateLimiter: Sendable {
    private struct State {
        var buckets: [String: TokenBucket] = [:]
        /// Size past which the next take sweeps out full buckets.
        var sweepThreshold = KeyedRateLimiter.minimumSweepThreshold
    }

    /// 0: unlimited.
    let rate: Int
    private let state = Mutex(State())
    private static let minimumSweepThreshold = 1024

    init(rate: Int) {
        self.rate = rate
    }

    var isUnlimited: Bool { self.rate == 0 }

    /// Takes `count` tokens for `key`, all or none; on refusal, how many seconds until the next one.
    func take(_ key: String, count: Int = 1, now: UInt64) -> (allowed: Bool, retryAfter: Int) {
        guard self.rate > 0 else { return (true, 0) }
        return self.state.withLock { state in
            if state.buckets.count >= state.sweepThreshold {
                state.buckets = state.buckets.filter { !$0.value.isFull(now: now) }
                state.sweepThreshold = max(Self.minimumSweepThreshold, state.buckets.count * 2)
            }
            var bucket = state.buckets[key] ?? TokenBucket(rate: self.rate, capacity: self.rate, now: now)
            let allowed = bucket.take(count, now: now)
            state.buckets[key] = bucket
            return (allowed, allowed ? 0 : bucket.secondsUntilNextToken)
        }
    }

    /// Keys currently tracked (for tests).
    var trackedKeyCount: Int {
        self.state.withLock { $0.buckets.count }
    }
}
