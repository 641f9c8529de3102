/// How one delivery attempt ended, as the retry policy sees it (docs/event-bus.md, "Retries and
/// the dead-letter queue").
///
/// `http(status:retryAfter:)` classifies a webhook's answer: 2xx succeeded; 410 Gone means the
/// endpoint is gone for good; every other status failed and is retried. Chorus retries the
/// other 4xx too, as Standard Webhooks senders (Svix) do: a receiver's 401, 404 or 422 is most
/// often a deploy or configuration slip its operator fixes within the retry window, and what
/// never succeeds still ends in the dead-letter queue after the last attempt, where it can be
/// retried, rather than being lost to a guess about which client errors are permanent.
public struct DeliveryOutcome: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        case succeeded
        case failed(retryAfter: Duration?)
        case rejected
        case gone
    }

    let kind: Kind

    /// The consumer took the event.
    public static let succeeded = DeliveryOutcome(kind: .succeeded)

    /// The attempt failed in a way another attempt may not (an error thrown by a handler, a
    /// refused connection, a timeout); `retryAfter`, when the target asked, is the earliest
    /// time to try again.
    public static func failed(retryAfter: Duration? = nil) -> DeliveryOutcome {
        DeliveryOutcome(kind: .failed(retryAfter: retryAfter))
    }

    /// The target will never take this event (an in-process handler says so): dead-letter it
    /// without further attempts.
    public static let rejected = DeliveryOutcome(kind: .rejected)

    /// The target is gone for good (HTTP 410): disable the consumer.
    public static let gone = DeliveryOutcome(kind: .gone)

    /// A webhook's answer: 2xx succeeded, 410 is gone, anything else failed and may be retried
    /// (`retryAfter` from its `Retry-After` header, see `RetryAfter`).
    public static func http(status: Int, retryAfter: Duration? = nil) -> DeliveryOutcome {
        switch status {
        case 200..<300:
            .succeeded
        case 410:
            .gone
        default:
            .failed(retryAfter: retryAfter)
        }
    }
}
