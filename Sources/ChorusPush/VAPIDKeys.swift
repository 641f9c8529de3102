import ChorusJWT
public import Crypto

/// An application server's VAPID key pair (RFC 8292): P-256, the public key given to browsers
/// as `applicationServerKey` (65 bytes uncompressed, base64url), the private key as its 32-byte
/// scalar in base64url: the forms `chorus push keys` prints and the configuration holds.
public struct VAPIDKeys: Sendable {
    /// The signing key; its public half is what browsers subscribe with.
    public let privateKey: P256.Signing.PrivateKey

    /// A new random key pair.
    public init() {
        self.privateKey = P256.Signing.PrivateKey()
    }

    /// The pair from its configured private key; `publicKey`, when given, must match it.
    public init(privateKey: String, publicKey: String? = nil) throws(WebPushError) {
        guard let scalar = Base64URL.decode(privateKey), scalar.count == 32,
            let key = try? P256.Signing.PrivateKey(rawRepresentation: scalar)
        else {
            throw WebPushError("push_vapid_private_key must be a P-256 private key: 32 bytes in base64url (chorus push keys)")
        }
        self.privateKey = key
        if let publicKey, publicKey != self.publicKeyText {
            throw WebPushError("push_vapid_public_key does not belong to push_vapid_private_key")
        }
    }

    /// The public key in base64url: the browser's `applicationServerKey` and the `k` parameter.
    public var publicKeyText: String { Base64URL.encode(self.privateKey.publicKey.x963Representation) }

    /// The private key's scalar in base64url.
    public var privateKeyText: String { Base64URL.encode(self.privateKey.rawRepresentation) }
}
