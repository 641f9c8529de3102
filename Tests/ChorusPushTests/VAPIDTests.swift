import ChorusCore
import ChorusJWT
import ChorusPush
import Crypto
import Testing

@Suite struct VAPIDTests {
    @Test func keysRoundTripThroughTheirText() throws {
        let keys = VAPIDKeys()
        #expect(Base64URL.decode(keys.publicKeyText)?.count == 65)
        let loaded = try VAPIDKeys(privateKey: keys.privateKeyText, publicKey: keys.publicKeyText)
        #expect(loaded.publicKeyText == keys.publicKeyText)
        #expect(throws: WebPushError.self) { try VAPIDKeys(privateKey: keys.privateKeyText, publicKey: VAPIDKeys().publicKeyText) }
        #expect(throws: WebPushError.self) { try VAPIDKeys(privateKey: "not a key") }
    }

    /// The header's token verifies with the public key of `k` (through ChorusJWT's ES256
    /// verifier, not the signer's code) and carries aud, exp and sub.
    @Test func authorizationCarriesATokenThePublicKeyVerifies() throws {
        let signer = try VAPIDSigner(keys: VAPIDKeys(), subject: "mailto:ops@example.com")
        let header = try signer.authorization(audience: "https://push.example.net", expiresAt: 2_000_000_000)
        let parts = header.split(separator: " ", maxSplits: 1)
        #expect(parts.first == "vapid")
        let parameters = Dictionary(
            uniqueKeysWithValues: parts[1].split(separator: ",").map { part in
                let pair = part.trimmingPrefix(" ").split(separator: "=", maxSplits: 1)
                return (String(pair[0]), String(pair[1]))
            })
        #expect(parameters["k"] == signer.keys.publicKeyText)
        let point = try #require(Base64URL.decode(parameters["k"]!))
        let key = try P256.Signing.PublicKey(x963Representation: point)
        let verifier = try #require(TokenVerifier(defaultKey: try VerificationKey(pem: key.pemRepresentation), keySet: []))
        let claims = try verifier.verify(try #require(parameters["t"]))
        #expect(claims["aud"]?.string == "https://push.example.net")
        #expect(claims["sub"]?.string == "mailto:ops@example.com")
        #expect(claims["exp"]?.int64 == 2_000_000_000)

        let other = try VAPIDSigner(keys: VAPIDKeys(), subject: "mailto:ops@example.com")
        #expect(throws: TokenError.self) { try verifier.verify(try other.token(audience: "https://push.example.net", expiresAt: 2_000_000_000)) }
    }

    @Test func subjectMustBeAContact() {
        #expect(throws: WebPushError.self) { try VAPIDSigner(keys: VAPIDKeys(), subject: "ops@example.com") }
    }

    @Test func audienceIsTheEndpointsOrigin() {
        #expect(VAPIDSigner.audience(of: "https://fcm.googleapis.com/fcm/send/abc:def") == "https://fcm.googleapis.com")
        #expect(VAPIDSigner.audience(of: "https://push.example.net:443/x") == "https://push.example.net")
        #expect(VAPIDSigner.audience(of: "http://127.0.0.1:8123/push/1") == "http://127.0.0.1:8123")
        #expect(VAPIDSigner.audience(of: "not a url") == nil)
    }
}
