import ChorusJWT
public import Crypto
import Foundation

/// RFC 8291 message encryption: the payload of a Web Push message, encrypted for one browser
/// subscription in the `aes128gcm` content coding of RFC 8188, as a single record.
///
/// Each message uses a fresh ephemeral P-256 key and a fresh 16-byte salt; tests pass fixed
/// ones (``encrypt(_:for:padding:salt:senderKey:)``) to reproduce RFC 8291 Appendix A.
public enum WebPushEncryption {
    /// The record size written in the header: one record holds the whole message (RFC 8291 §4).
    public static let recordSize = 4096
    /// The header: salt (16), record size (4), key id length (1), the sender's public key (65).
    public static let headerSize = 86
    /// The largest plaintext: a push service must accept 4096 bytes of body, and the header,
    /// the padding delimiter and the 16-byte tag take 103 of them (RFC 8291 §4).
    public static let maxPlaintextSize = 3993

    /// `plaintext` encrypted for `subscriber`: the body of the push request.
    ///
    /// - Parameters:
    ///   - padding: zero bytes after the delimiter, to hide the payload's length.
    ///   - salt: 16 random bytes; a fixed value only in tests.
    ///   - senderKey: the ephemeral key; a fixed value only in tests.
    public static func encrypt(
        _ plaintext: some Collection<UInt8>,
        for subscriber: WebPushSubscriberKeys,
        padding: Int = 0,
        salt: [UInt8]? = nil,
        senderKey: P256.KeyAgreement.PrivateKey? = nil
    ) throws(WebPushError) -> [UInt8] {
        guard plaintext.count + padding <= Self.maxPlaintextSize, padding >= 0 else {
            throw WebPushError("the payload is \(plaintext.count) bytes (with \(padding) of padding); a push message holds at most \(Self.maxPlaintextSize)")
        }
        let salt = salt ?? (0..<16).map { _ in UInt8.random(in: .min ... .max) }
        guard salt.count == 16 else { throw WebPushError("the salt must be 16 bytes") }
        let senderKey = senderKey ?? P256.KeyAgreement.PrivateKey()
        let senderPublic = Array(senderKey.publicKey.x963Representation)
        let shared: SharedSecret
        do {
            shared = try senderKey.sharedSecretFromKeyAgreement(with: subscriber.publicKey)
        } catch {
            throw WebPushError("key agreement with the subscription's key failed: \(error)")
        }
        let (key, nonce) = Self.contentKeys(shared: shared, subscriber: subscriber, senderPublic: senderPublic, salt: salt)

        // One record, the last: the plaintext, the delimiter 0x02, then the padding (RFC 8188 §2).
        var record = Array(plaintext)
        record.append(2)
        record.append(contentsOf: repeatElement(0, count: padding))
        let sealed: AES.GCM.SealedBox
        do {
            sealed = try AES.GCM.seal(record, using: key, nonce: try AES.GCM.Nonce(data: nonce))
        } catch {
            throw WebPushError("encryption failed: \(error)")
        }
        var body = salt
        body.reserveCapacity(Self.headerSize + record.count + 16)
        withUnsafeBytes(of: UInt32(Self.recordSize).bigEndian) { body.append(contentsOf: $0) }
        body.append(UInt8(senderPublic.count))
        body.append(contentsOf: senderPublic)
        body.append(contentsOf: sealed.ciphertext)
        body.append(contentsOf: sealed.tag)
        return body
    }

    /// The content-encryption key and nonce (RFC 8291 §3.3, §3.4; RFC 8188 §2.2, §2.3).
    static func contentKeys(
        shared: SharedSecret, subscriber: WebPushSubscriberKeys, senderPublic: [UInt8], salt: [UInt8]
    ) -> (key: SymmetricKey, nonce: [UInt8]) {
        // IKM = HKDF(auth_secret, ecdh_secret, "WebPush: info" || 0x00 || ua_public || as_public, 32)
        let keyInfo = Array("WebPush: info".utf8) + [0] + subscriber.publicKeyBytes + senderPublic
        let ikm = shared.hkdfDerivedSymmetricKey(
            using: SHA256.self, salt: subscriber.authSecret, sharedInfo: keyInfo, outputByteCount: 32)
        let prk = HKDF<SHA256>.extract(inputKeyMaterial: ikm, salt: salt)
        let key = HKDF<SHA256>.expand(
            pseudoRandomKey: prk, info: Array("Content-Encoding: aes128gcm".utf8) + [0], outputByteCount: 16)
        let nonce = HKDF<SHA256>.expand(
            pseudoRandomKey: prk, info: Array("Content-Encoding: nonce".utf8) + [0], outputByteCount: 12)
        return (key, nonce.withUnsafeBytes { Array($0) })
    }
}
