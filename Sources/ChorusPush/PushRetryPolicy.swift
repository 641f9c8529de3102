/// What to do after one attempt to hand a message to a push service (RFC 8030 §5, §7.2):
/// 2xx delivered; 404 and 410 mean the subscription is gone; 429 and 5xx (and no answer at
/// all) are retried after `Retry-After` or an exponential backoff, up to `maxAttempts`; any
/// other answer is final.
public struct PushRetryPolicy: Sendable, Equatable {
    /// Attempts in all, the first included.
    public var maxAttempts: Int
    /// The wait before the second attempt; it doubles after each retry.
    public var baseDelay: Duration
    /// The longest wait, `Retry-After` included.
    public var maxDelay: Duration

    /// The decision on one answer.
    public enum Decision: Sendable, Equatable {
        /// The push service took the message.
        case delivered
        /// Try again after this long.
        case retry(after: Duration)
        /// The subscription expired or was unsubscribed: forget it.
        case gone
        /// Final failure (a refused request, or the last attempt failed), with the status when
        /// there was an answer.
        case failed(status: Int?)
    }

    /// A policy; by default 5 attempts, waits of 1 s, 2 s, 4 s, 8 s, none over 60 s.
    public init(maxAttempts: Int = 5, baseDelay: Duration = .seconds(1), maxDelay: Duration = .seconds(60)) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// The decision after attempt number `attempt` (1 for the first) got `status` (nil: no
    /// answer, as when the connection failed) and the `Retry-After` seconds the answer gave.
    public func decide(status: Int?, retryAfterSeconds: Int?, attempt: Int) -> Decision {
        switch status {
        case .some(200..<300):
            return .delivered
        case .some(404), .some(410):
            return .gone
        case nil, .some(429), .some(500..<600):
            guard attempt < self.maxAttempts else { return .failed(status: status) }
            if let seconds = retryAfterSeconds, seconds >= 0 {
                return .retry(after: min(.seconds(seconds), self.maxDelay))
            }
            let backoff = self.baseDelay * (1 << min(attempt - 1, 20))
            return .retry(after: min(backoff, self.maxDelay))
        default:
            return .failed(status: status)
        }
    }
}
