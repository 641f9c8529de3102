import ChorusJWT
import ChorusPush
import Crypto
import Testing

/// RFC 8291 Appendix A, byte for byte, with the RFC's salt and ephemeral key.
@Suite struct WebPushEncryptionTests {
    static let plaintext = "When I grow up, I want to be a watermelon"
    static let senderPrivate = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
    static let senderPublic = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
    static let receiverPublic = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
    static let receiverPrivate = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
    static let salt = "DGv6ra1nlYgDCS1FRnbzlw"
    static let authSecret = "BTBZMqHH6r4Tts7J_aSIgg"
    static let body =
        "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27ml"
        + "mlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPT"
        + "pK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"

    static func bytes(_ text: String) -> [UInt8] { Base64URL.decode(text)! }

    static let subscriber = try! WebPushSubscriberKeys(p256dh: Self.receiverPublic, auth: Self.authSecret)

    @Test func reproducesAppendixA() throws {
        let senderKey = try P256.KeyAgreement.PrivateKey(rawRepresentation: Self.bytes(Self.senderPrivate))
        #expect(Base64URL.encode(senderKey.publicKey.x963Representation) == Self.senderPublic)
        let body = try WebPushEncryption.encrypt(
            Array(Self.plaintext.utf8), for: Self.subscriber, salt: Self.bytes(Self.salt), senderKey: senderKey)
        #expect(Base64URL.encode(body) == Self.body)
    }

    /// A fresh key and salt each time, and the receiver's key opens it (decryption written here
    /// from RFC 8291 §3, the receiver's side).
    @Test func randomMessagesDecryptWithTheReceiversKey() throws {
        let receiver = try P256.KeyAgreement.PrivateKey(rawRepresentation: Self.bytes(Self.receiverPrivate))
        let first = try WebPushEncryption.encrypt(Array("hello".utf8), for: Self.subscriber, padding: 7)
        let second = try WebPushEncryption.encrypt(Array("hello".utf8), for: Self.subscriber, padding: 7)
        #expect(first != second)
        #expect(first.count == WebPushEncryption.headerSize + 5 + 1 + 7 + 16)
        let record = try Self.decrypt(first, receiver: receiver)
        #expect(record == Array("hello".utf8) + [2] + Array(repeating: 0, count: 7))
    }

    @Test func refusesAPayloadLargerThanOneMessage() throws {
        let largest = [UInt8](repeating: 65, count: WebPushEncryption.maxPlaintextSize)
        let body = try WebPushEncryption.encrypt(largest, for: Self.subscriber)
        #expect(body.count == 4096)
        #expect(throws: WebPushError.self) {
            try WebPushEncryption.encrypt(largest + [65], for: Self.subscriber)
        }
    }

    @Test func refusesBadSubscriberKeys() {
        #expect(throws: WebPushError.self) { try WebPushSubscriberKeys(p256dh: Self.salt, auth: Self.authSecret) }
        #expect(throws: WebPushError.self) { try WebPushSubscriberKeys(p256dh: Self.receiverPublic, auth: Self.receiverPublic) }
        // 65 bytes starting 0x04 that are not a point on the curve.
        let offCurve = Base64URL.encode([4] + [UInt8](repeating: 1, count: 64))
        #expect(throws: WebPushError.self) { try WebPushSubscriberKeys(p256dh: offCurve, auth: Self.authSecret) }
        // Padded base64url, as some libraries write it, is accepted.
        #expect(throws: Never.self) { try WebPushSubscriberKeys(p256dh: Self.receiverPublic, auth: Self.authSecret + "==") }
    }

    static func decrypt(_ body: [UInt8], receiver: P256.KeyAgreement.PrivateKey) throws -> [UInt8] {
        let salt = Array(body[0..<16])
        #expect(body[16..<20] == [0, 0, 0x10, 0])
        #expect(body[20] == 65)
        let senderPublic = Array(body[21..<86])
        let shared = try receiver.sharedSecretFromKeyAgreement(with: try P256.KeyAgreement.PublicKey(x963Representation: senderPublic))
        let info = Array("WebPush: info".utf8) + [0] + Self.bytes(Self.receiverPublic) + senderPublic
        let ikm = shared.hkdfDerivedSymmetricKey(using: SHA256.self, salt: Self.bytes(Self.authSecret), sharedInfo: info, outputByteCount: 32)
        let prk = HKDF<SHA256>.extract(inputKeyMaterial: ikm, salt: salt)
        let key = HKDF<SHA256>.expand(pseudoRandomKey: prk, info: Array("Content-Encoding: aes128gcm\0".utf8), outputByteCount: 16)
        let nonce = HKDF<SHA256>.expand(pseudoRandomKey: prk, info: Array("Content-Encoding: nonce\0".utf8), outputByteCount: 12)
        let sealed = try AES.GCM.SealedBox(
            nonce: try AES.GCM.Nonce(data: nonce.withUnsafeBytes { Array($0) }),
            ciphertext: body[86..<(body.count - 16)], tag: body[(body.count - 16)...])
        return Array(try AES.GCM.open(sealed, using: key))
    }
}
