import ChorusCore
import ChorusJWT
import Crypto
import Foundation
import NIOCore

/// Signs VAPID tokens (RFC 8292): an ES256 JWT naming the push service (`aud`), an expiry at
/// most 24 hours ahead (`exp`) and the operator's contact (`sub`), sent as
/// `Authorization: vapid t=<JWT>, k=<public key>`.
public struct VAPIDSigner: Sendable {
    /// The longest a token may live (RFC 8292 §2).
    public static let maxLifetime: Int64 = 24 * 3600

    /// The key pair tokens are signed with.
    public let keys: VAPIDKeys
    /// `mailto:` or `https:` contact for the push service's operator.
    public let subject: String

    private static let encodedHeader = Base64URL.encode(#"{"typ":"JWT","alg":"ES256"}"#.utf8)

    /// A signer for `keys`; `subject` must be a `mailto:` or `https:` URI.
    public init(keys: VAPIDKeys, subject: String) throws(WebPushError) {
        guard subject.hasPrefix("mailto:") || subject.hasPrefix("https://") else {
            throw WebPushError("push_vapid_subject must be a mailto: or https: URI (RFC 8292 §2.1), not '\(subject)'")
        }
        self.keys = keys
        self.subject = subject
    }

    /// The `Authorization` header value for a request to `audience` (the push service's origin,
    /// `https://host[:port]`), valid until `expiresAt` (seconds since the epoch).
    public func authorization(audience: String, expiresAt: Int64) throws(WebPushError) -> String {
        "vapid t=" + (try self.token(audience: audience, expiresAt: expiresAt)) + ", k=" + self.keys.publicKeyText
    }

    /// The signed JWT.
    public func token(audience: String, expiresAt: Int64) throws(WebPushError) -> String {
        var claims = ByteBuffer()
        claims.writeStaticString("{")
        claims.writeJSONKey("aud")
        claims.writeJSONString(audience)
        claims.writeStaticString(",")
        claims.writeJSONKey("exp")
        claims.writeString(String(expiresAt))
        claims.writeStaticString(",")
        claims.writeJSONKey("sub")
        claims.writeJSONString(self.subject)
        claims.writeStaticString("}")
        let signingInput = Self.encodedHeader + "." + Base64URL.encode(claims.readableBytesView)
        // JWS wants the raw r || s form (64 bytes), not DER.
        let signature: P256.Signing.ECDSASignature
        do {
            signature = try self.keys.privateKey.signature(for: Array(signingInput.utf8))
        } catch {
            throw WebPushError("signing the VAPID token failed: \(error)")
        }
        return signingInput + "." + Base64URL.encode(signature.rawRepresentation)
    }

    /// The origin a push endpoint's token names: scheme, host and a non-default port.
    public static func audience(of endpoint: String) -> String? {
        guard let url = URLComponents(string: endpoint), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else {
            return nil
        }
        let hostPart = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        let defaultPort = scheme == "https" ? 443 : 80
        return scheme + "://" + hostPart + (url.port.map { $0 == defaultPort ? "" : ":\($0)" } ?? "")
    }
}
