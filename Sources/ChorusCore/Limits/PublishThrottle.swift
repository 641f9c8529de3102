/// Per-connection limit on publish (or subscribe) frames: a token bucket of `rate` a second
/// (bursts up to `capacity`, by default one second's worth), and the line past which refusals
/// count as abuse.
///
/// A client that keeps sending after being refused is not slowed by errors alone; once more
/// than `rate` frames are refused within one second (it sends at over twice the limit), the
/// hub closes it (4029).
package struct PublishThrottle: Sendable {
    /// What ``check(now:)`` decides for one frame.
    package enum Verdict: Sendable, Equatable {
        /// Within the limit: handle the frame.
        case allowed
        /// Answer `rate_limited`, keep the connection.
        case refused
        /// Answer `rate_limited` and close with 4029.
        case abusive
    }

    private var bucket: TokenBucket
    private var refusedInWindow = 0
    private var windowStart: UInt64

    /// A full bucket of `rate` a second (`capacity`: the burst, at least `rate`); `now` in monotonic nanoseconds.
    package init(rate: Int, capacity: Int? = nil, now: UInt64) {
        self.bucket = TokenBucket(rate: rate, capacity: max(rate, capacity ?? rate), now: now)
        self.windowStart = now
    }

    /// Frames allowed a second.
    package var rate: Int { self.bucket.rate }

    /// Takes a token for one frame at `now` (monotonic nanoseconds) and says what to do with it.
    package mutating func check(now: UInt64) -> Verdict {
        if self.bucket.take(now: now) { return .allowed }
        if now &- self.windowStart >= 1_000_000_000 {
            self.windowStart = now
            self.refusedInWindow = 0
        }
        self.refusedInWindow += 1
        return self.refusedInWindow > self.bucket.rate ? .abusive : .refused
    }
}
