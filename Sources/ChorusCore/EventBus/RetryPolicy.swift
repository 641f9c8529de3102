/// When to try a failed delivery again, and when to give up (docs/event-bus.md, "Retries and
/// the dead-letter queue").
///
/// Either exponential backoff (`base · 2^(n−1)` after the n-th attempt, at most `cap`, with
/// full, equal or no jitter) or an explicit schedule of delays. A target's `Retry-After` can only
/// lengthen the next delay, up to `maxRetryAfter`. The policy is pure: the time is passed in and
/// randomness comes from the caller's generator, so its decisions are reproducible in tests.
public struct RetryPolicy: Sendable, Hashable {
    /// How much randomness spreads the retries of many failed deliveries apart.
    public enum Jitter: String, Sendable, Hashable, CaseIterable {
        /// Exactly the computed delay.
        case none
        /// Uniform in [0, delay]: spreads retries the most (AWS's "full jitter").
        case full
        /// Uniform in [delay/2, delay]: spreads them while keeping at least half the backoff.
        case equal
    }

    /// How the delays grow, as configured (for showing a consumer's settings back).
    public enum Backoff: Sendable, Hashable {
        /// `min(cap, base · 2^(n−1))` after the n-th failed attempt, jittered.
        case exponential(base: Duration, cap: Duration, jitter: Jitter)
        /// The n-th delay after the n-th failed attempt.
        case schedule([Duration])
    }

    /// How the delays grow.
    public let backoff: Backoff
    /// Attempts in all, the first one included; after the last one fails the delivery is dead-lettered.
    public let maxAttempts: Int
    /// The longest delay a `Retry-After` can ask for; a longer one is cut to this.
    public let maxRetryAfter: Duration

    /// The default bound on `Retry-After`: an endpoint cannot park a delivery for longer than an hour.
    public static let defaultMaxRetryAfter: Duration = .seconds(3600)

    /// Standard Webhooks' schedule: retries 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h after
    /// each failure, so 8 attempts over about 27.6 hours.
    public static let standardWebhooks = try! RetryPolicy.schedule(
        [.seconds(5), .seconds(300), .seconds(1800), .seconds(7200), .seconds(18000), .seconds(36000), .seconds(36000)]
    )

    /// Exponential backoff: after the n-th failed attempt, wait `min(cap, base · 2^(n−1))`,
    /// jittered; give up after `maxAttempts` attempts.
    public static func exponential(
        base: Duration,
        cap: Duration,
        maxAttempts: Int,
        jitter: Jitter = .full,
        maxRetryAfter: Duration = Self.defaultMaxRetryAfter
    ) throws(RetryPolicyError) -> RetryPolicy {
        guard base > .zero else {
            throw RetryPolicyError("the retry base delay must be positive")
        }
        guard cap >= base else {
            throw RetryPolicyError("the retry cap (\(cap)) must be at least the base delay (\(base))")
        }
        return try RetryPolicy(backoff: .exponential(base: base, cap: cap, jitter: jitter), maxAttempts: maxAttempts, maxRetryAfter: maxRetryAfter)
    }

    /// An explicit schedule: the n-th delay is waited after the n-th failed attempt, so there
    /// are `delays.count + 1` attempts in all. No jitter: the schedule is what was asked for.
    public static func schedule(_ delays: [Duration], maxRetryAfter: Duration = Self.defaultMaxRetryAfter) throws(RetryPolicyError) -> RetryPolicy {
        guard delays.allSatisfy({ $0 >= .zero }) else {
            throw RetryPolicyError("retry delays cannot be negative")
        }
        return try RetryPolicy(backoff: .schedule(delays), maxAttempts: delays.count + 1, maxRetryAfter: maxRetryAfter)
    }

    private init(backoff: Backoff, maxAttempts: Int, maxRetryAfter: Duration) throws(RetryPolicyError) {
        guard maxAttempts >= 1 else {
            throw RetryPolicyError("a delivery needs at least 1 attempt (max attempts is \(maxAttempts))")
        }
        guard maxRetryAfter >= .zero else {
            throw RetryPolicyError("the Retry-After bound cannot be negative")
        }
        self.backoff = backoff
        self.maxAttempts = maxAttempts
        self.maxRetryAfter = maxRetryAfter
    }

    /// What to do after attempt number `attempt` (1 for the first) ended with `outcome`, at
    /// `now` (milliseconds since the Unix epoch).
    public func next(
        afterAttempt attempt: Int,
        outcome: DeliveryOutcome,
        now: Int64,
        using generator: inout some RandomNumberGenerator
    ) -> RetryDecision {
        switch outcome.kind {
        case .succeeded:
            return .delivered
        case .gone:
            return .disable
        case .rejected:
            return .deadLetter
        case .failed(let retryAfter):
            guard let delay = self.delay(afterAttempt: attempt, using: &generator) else {
                return .deadLetter
            }
            let asked = retryAfter.map { min(max($0, .zero), self.maxRetryAfter) } ?? .zero
            return .retry(at: now.addingSaturating(max(delay, asked).milliseconds))
        }
    }

    /// The delay before attempt `attempt + 1`; nil when `attempt` was the last one.
    public func delay(afterAttempt attempt: Int, using generator: inout some RandomNumberGenerator) -> Duration? {
        guard attempt >= 1, attempt < self.maxAttempts else {
            return nil
        }
        switch self.backoff {
        case .schedule(let delays):
            return delays[attempt - 1]
        case .exponential(let base, let cap, let jitter):
            let capMilliseconds = cap.milliseconds
            // Doubling stops at the cap, before it could overflow, so the loop is short too.
            var doubled = min(base.milliseconds, capMilliseconds)
            for _ in 1..<attempt {
                guard doubled < capMilliseconds else { break }
                doubled = doubled > capMilliseconds / 2 ? capMilliseconds : doubled * 2
            }
            let jittered =
                switch jitter {
                case .none: doubled
                case .full: Int64.random(in: 0...doubled, using: &generator)
                case .equal: doubled / 2 + Int64.random(in: 0...(doubled - doubled / 2), using: &generator)
                }
            return .milliseconds(jittered)
        }
    }
}

/// What the dispatcher does after an attempt (`RetryPolicy.next(afterAttempt:outcome:now:using:)`).
public enum RetryDecision: Sendable, Hashable {
    /// The event was delivered: advance past it.
    case delivered
    /// Try again at this time (milliseconds since the Unix epoch).
    case retry(at: Int64)
    /// No attempts left, or the target refused the event for good: store it in the dead-letter queue.
    case deadLetter
    /// The target is gone (HTTP 410): disable the consumer until an operator enables it again.
    case disable
}

extension Duration {
    /// Whole milliseconds, rounded down; saturates rather than overflowing.
    package var milliseconds: Int64 {
        let (seconds, attoseconds) = self.components
        let (fromSeconds, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        guard !overflow else {
            return seconds < 0 ? .min : .max
        }
        return fromSeconds.addingSaturating(attoseconds / 1_000_000_000_000_000)
    }
}

extension Int64 {
    /// `self + other`, stopping at the bounds instead of trapping.
    func addingSaturating(_ other: Int64) -> Int64 {
        let (sum, overflow) = self.addingReportingOverflow(other)
        guard overflow else {
            return sum
        }
        return other > 0 ? .max : .min
    }
}
