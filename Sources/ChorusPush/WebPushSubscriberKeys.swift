import ChorusJWT
public import Crypto

/// A browser subscription's keys (`PushSubscription.getKey`): the P-256 public key it decrypts
/// with (`p256dh`, 65 bytes uncompressed) and its 16-byte authentication secret (`auth`).
public struct WebPushSubscriberKeys: Sendable {
    /// The browser's key-agreement key.
    public let publicKey: P256.KeyAgreement.PublicKey
    /// `publicKey` as the browser gave it (uncompressed point).
    public let publicKeyBytes: [UInt8]
    /// The 16-byte authentication secret.
    public let authSecret: [UInt8]

    /// The keys from a subscription's JSON (`keys.p256dh`, `keys.auth`, base64url); an error
    /// says which one is wrong.
    public init(p256dh: String, auth: String) throws(WebPushError) {
        // Browsers write unpadded base64url; some libraries pad it.
        guard let point = Base64URL.decode(Self.unpadded(p256dh).utf8), point.count == 65, point.first == 4 else {
            throw WebPushError("keys.p256dh must be a P-256 public key: 65 bytes (uncompressed point) in base64url")
        }
        guard let secret = Base64URL.decode(Self.unpadded(auth).utf8), secret.count == 16 else {
            throw WebPushError("keys.auth must be 16 bytes in base64url")
        }
        do {
            self.publicKey = try P256.KeyAgreement.PublicKey(x963Representation: point)
        } catch {
            throw WebPushError("keys.p256dh is not a point on P-256")
        }
        self.publicKeyBytes = point
        self.authSecret = secret
    }

    private static func unpadded(_ text: String) -> Substring {
        text[..<(text.firstIndex(of: "=") ?? text.endIndex)]
    }
}
