/// Why a webhook secret was refused or a signed webhook did not verify.
///
/// The cases stay private so new ones can be added without breaking clients.
public struct WebhookSignatureError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Base: Hashable, Sendable {
        case invalidSecret(String)
        case invalidTimestamp
        case timestampOutsideTolerance
        case noMatchingSignature
    }

    private let base: Base

    private init(_ base: Base) {
        self.base = base
    }

    /// A secret's text or length is wrong.
    static func invalidSecret(_ reason: String) -> WebhookSignatureError {
        WebhookSignatureError(.invalidSecret(reason))
    }

    /// The `webhook-timestamp` header is not whole seconds.
    static let invalidTimestamp = WebhookSignatureError(.invalidTimestamp)

    /// The `webhook-timestamp` is too far from now: a replayed or delayed message.
    static let timestampOutsideTolerance = WebhookSignatureError(.timestampOutsideTolerance)

    /// No `v1` signature in `webhook-signature` matches any of the secrets.
    static let noMatchingSignature = WebhookSignatureError(.noMatchingSignature)

    /// What is wrong.
    public var description: String {
        switch self.base {
        case .invalidSecret(let reason):
            reason
        case .invalidTimestamp:
            "the webhook-timestamp header is not a number of seconds"
        case .timestampOutsideTolerance:
            "the webhook-timestamp is too far from the current time"
        case .noMatchingSignature:
            "no signature in webhook-signature matches"
        }
    }
}
