import Foundation

/// A webhook endpoint's signing secret, written `whsec_` followed by its bytes in base64, as
/// Standard Webhooks libraries expect it (docs/event-bus.md, "Webhook signatures").
///
/// Its description is redacted, so a secret does not end up in a log by accident.
public struct WebhookSecret: Sendable, Hashable, CustomStringConvertible {
    /// What a secret's text starts with.
    public static let prefix = "whsec_"
    /// How many bytes a secret may have: Standard Webhooks asks for 24 to 64.
    public static let byteCounts = 24...64

    /// The secret's bytes, the HMAC key.
    public let bytes: [UInt8]

    /// A secret from its bytes.
    public init(bytes: some Collection<UInt8>) throws(WebhookSignatureError) {
        guard Self.byteCounts.contains(bytes.count) else {
            throw .invalidSecret("a webhook secret needs \(Self.byteCounts.lowerBound) to \(Self.byteCounts.upperBound) bytes, not \(bytes.count)")
        }
        self.bytes = Array(bytes)
    }

    /// A secret from its text: `whsec_` and base64 (padding optional); the prefix may be left out,
    /// as Standard Webhooks libraries allow.
    public init(parsing text: String) throws(WebhookSignatureError) {
        var encoded = text.hasPrefix(Self.prefix) ? String(text.dropFirst(Self.prefix.count)) : text
        encoded += String(repeating: "=", count: (4 - encoded.utf8.count % 4) % 4)
        guard let decoded = Data(base64Encoded: encoded) else {
            throw .invalidSecret("a webhook secret is '\(Self.prefix)' followed by base64")
        }
        try self.init(bytes: decoded)
    }

    /// A new random secret of 32 bytes.
    public static func random(using generator: inout some RandomNumberGenerator) -> WebhookSecret {
        try! WebhookSecret(bytes: (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    /// The secret's text, `whsec_` and base64: what the endpoint's owner is given.
    public var encoded: String {
        Self.prefix + Data(self.bytes).base64EncodedString()
    }

    /// Redacted: `whsec_…`.
    public var description: String {
        Self.prefix + "…"
    }
}
