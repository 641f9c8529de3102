public import NIOCore
import Crypto
import Foundation

/// Standard Webhooks signatures (docs/event-bus.md, "Webhook signatures"): the three headers a
/// webhook delivery carries, and their verification for receivers written in Swift.
///
/// The signature is `v1,` and the base64 of HMAC-SHA256(secret, "id.timestamp.body"). While an
/// endpoint's secret is rotated, a delivery is signed with each of its secrets, the signatures
/// separated by spaces, so the receiver accepts it with either.
public enum WebhookSignature {
    /// The headers of one signed delivery.
    public struct Headers: Sendable, Hashable {
        /// `webhook-id`: the event's id, the same on every attempt, so receivers can deduplicate.
        public var id: String
        /// `webhook-timestamp`: when the attempt was signed, in seconds since the Unix epoch.
        public var timestamp: Int64
        /// `webhook-signature`: one `v1,<base64>` per secret, separated by spaces.
        public var signature: String

        /// The header names, lowercase.
        public static let idName = "webhook-id"
        /// The timestamp header's name.
        public static let timestampName = "webhook-timestamp"
        /// The signature header's name.
        public static let signatureName = "webhook-signature"

        /// The headers as name and value pairs, ready for a request.
        public var fields: [(name: String, value: String)] {
            [(Self.idName, self.id), (Self.timestampName, String(self.timestamp)), (Self.signatureName, self.signature)]
        }
    }

    /// How far a timestamp may be from the receiver's clock by default: 5 minutes, as the
    /// Standard Webhooks libraries allow.
    public static let defaultTolerance: Int64 = 300

    /// The headers for delivering `body` as message `id` at `timestamp` (seconds since the Unix
    /// epoch), signed with each of `secrets` in order.
    public static func headers(id: String, timestamp: Int64, body: ByteBuffer, secrets: [WebhookSecret]) -> Headers {
        let signature = secrets.map { "v1," + Data(Self.code(id: id, timestamp: String(timestamp), body: body, secret: $0)).base64EncodedString() }
        return Headers(id: id, timestamp: timestamp, signature: signature.joined(separator: " "))
    }

    /// Checks a delivery as a receiver does, from the header values as received: the timestamp
    /// lies within `tolerance` seconds of `now` and one `v1` signature matches one of `secrets`
    /// (compared in constant time).
    public static func verify(
        id: String,
        timestamp: String,
        signature: String,
        body: ByteBuffer,
        secrets: [WebhookSecret],
        now: Int64,
        tolerance: Int64 = Self.defaultTolerance
    ) throws(WebhookSignatureError) {
        guard let seconds = Int64(timestamp) else {
            throw .invalidTimestamp
        }
        let (difference, overflow) = seconds.subtractingReportingOverflow(now)
        guard !overflow, difference.magnitude <= tolerance.magnitude else {
            throw .timestampOutsideTolerance
        }
        let codes = secrets.map { Self.code(id: id, timestamp: timestamp, body: body, secret: $0) }
        for entry in signature.split(separator: " ") {
            let parts = entry.split(separator: ",", maxSplits: 1)
            guard parts.count == 2, parts[0] == "v1", let given = Data(base64Encoded: String(parts[1])) else {
                continue
            }
            if codes.contains(where: { $0 == given }) {
                return
            }
        }
        throw .noMatchingSignature
    }

    private static func code(id: String, timestamp: String, body: ByteBuffer, secret: WebhookSecret) -> HashedAuthenticationCode<SHA256> {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: secret.bytes))
        hmac.update(data: Array("\(id).\(timestamp).".utf8))
        body.withUnsafeReadableBytes { hmac.update(data: $0) }
        return hmac.finalize()
    }
}
