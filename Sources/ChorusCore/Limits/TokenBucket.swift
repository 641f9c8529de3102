/// A token bucket: `rate` tokens a second, holding at most `capacity`, so a caller may burst up
/// to `capacity` and then keeps to `rate` on average.
///
/// Time is passed in (monotonic nanoseconds) so the arithmetic is tested without a clock.
package struct TokenBucket: Sendable, Equatable {
    /// Tokens added a second.
    package let rate: Int
    /// Most tokens held at once: the largest burst.
    package let capacity: Int
    /// Tokens in thousandths, so refills of a fraction of a token are not lost to rounding.
    private var milliTokens: Int64
    private var refilledAt: UInt64

    /// A full bucket.
    package init(rate: Int, capacity: Int, now: UInt64) {
        precondition(rate > 0 && capacity > 0, "a token bucket needs a positive rate and capacity")
        self.rate = rate
        self.capacity = capacity
        self.milliTokens = Int64(capacity) * 1000
        self.refilledAt = now
    }

    /// Takes `count` tokens; false (and nothing taken) when the bucket holds fewer.
    package mutating func take(_ count: Int = 1, now: UInt64) -> Bool {
        self.refill(now: now)
        let needed = Int64(count) * 1000
        guard self.milliTokens >= needed else { return false }
        self.milliTokens -= needed
        return true
    }

    /// Whether the bucket has refilled completely, so forgetting it changes nothing.
    package func isFull(now: UInt64) -> Bool {
        var refilled = self
        refilled.refill(now: now)
        return refilled.milliTokens == Int64(self.capacity) * 1000
    }

    /// Seconds until one token is available (at least 1, for a `Retry-After` header).
    package var secondsUntilNextToken: Int {
        let missing = max(0, 1000 - self.milliTokens)
        let milliseconds = (missing + Int64(self.rate) - 1) / Int64(self.rate)
        return max(1, Int((milliseconds + 999) / 1000))
    }

    private mutating func refill(now: UInt64) {
        guard now > self.refilledAt else { return }
        // `rate` tokens a second are `rate` milli-tokens a millisecond.
        let milliseconds = (now - self.refilledAt) / 1_000_000
        guard milliseconds > 0 else { return }
        let gained = Int64(min(milliseconds, 1 << 32)) * Int64(self.rate)
        self.milliTokens = min(Int64(self.capacity) * 1000, self.milliTokens + gained)
        // Keep the part of a millisecond not yet counted for the next refill.
        self.refilledAt += milliseconds * 1_000_000
    }
}
