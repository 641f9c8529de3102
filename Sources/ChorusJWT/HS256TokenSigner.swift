import ChorusCore
import Crypto
import NIOCore

/// Mints HS256 tokens: what `chorus token` prints, and what `chorus bench churn --token-secret`
/// presents, one token per connection.
public struct HS256TokenSigner: Sendable {
    private let key: SymmetricKey

    private static let encodedHeader = Base64URL.encode(#"{"alg":"HS256","typ":"JWT"}"#.utf8)

    /// A signer with the shared `secret` (its UTF-8 bytes are the HMAC key).
    public init(secret: String) {
        self.key = SymmetricKey(data: Array(secret.utf8))
    }

    /// A token for `subject` that expires at `expiresAt` (seconds since the Unix epoch; whole
    /// seconds, as some JWT libraries refuse a fractional `exp`), or never when nil.
    ///
    /// - Parameter claims: further claims, each name with its value as JSON text, written as given.
    public func token(subject: String, expiresAt: Int64?, claims extra: [(name: String, json: String)] = []) -> String {
        var claims = ByteBuffer()
        claims.writeStaticString("{")
        claims.writeJSONKey("sub")
        claims.writeJSONString(subject)
        if let expiresAt {
            claims.writeStaticString(",")
            claims.writeJSONKey("exp")
            claims.writeString(String(expiresAt))
        }
        for claim in extra {
            claims.writeStaticString(",")
            claims.writeJSONString(claim.name)
            claims.writeStaticString(":")
            claims.writeString(claim.json)
        }
        claims.writeStaticString("}")
        let signingInput = Self.encodedHeader + "." + Base64URL.encode(claims.readableBytesView)
        let signature = HMAC<SHA256>.authenticationCode(for: Array(signingInput.utf8), using: self.key)
        return signingInput + "." + Base64URL.encode(signature)
    }
}
