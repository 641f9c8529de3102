import ChorusJWT
import Crypto
import CryptoExtras
import Foundation
import Testing

@Suite struct KeySetTests {
    typealias K = TestKeys

    static func keySet(_ keys: String...) throws(KeyError) -> [(id: String, key: VerificationKey)] {
        try VerificationKey.keySet(json: #"{"keys":["# + keys.joined(separator: ",") + "]}")
    }

    @Test func signingKeysWithTheirKidAndAlgorithm() throws {
        let keys = try Self.keySet(
            K.rsaJWK(K.rsa, kid: "r", alg: nil),
            K.rsaJWK(K.rsa, kid: "p", alg: "PS512"),
            K.ecJWK(x963: K.p256.publicKey.x963Representation, curve: "P-256", kid: "e", alg: nil),
            K.ecJWK(x963: K.p384.publicKey.x963Representation, curve: nil, kid: "e384", alg: "ES384"),
            K.ed25519JWK(kid: "ed", alg: nil),
        )
        #expect(keys.map(\.id) == ["r", "p", "e", "e384", "ed"])
        #expect(keys.map(\.key.algorithm) == [.rs256, .ps512, .es256, .es384, .edDSA])
    }

    @Test func keysForOtherUsesAreLeftOut() throws {
        let keys = try Self.keySet(
            #"{"kty":"oct","kid":"hmac","k":"c2VjcmV0"}"#,
            #"{"kty":"RSA","kid":"enc","use":"enc","n":"AQAB","e":"AQAB"}"#,
            #"{"kty":"RSA","kid":"oaep","alg":"RSA-OAEP","n":"AQAB","e":"AQAB"}"#,
            #"{"kty":"OKP","kid":"x","crv":"X25519","x":"AQAB"}"#,
            K.ecJWK(x963: K.p256.publicKey.x963Representation, curve: "P-256", kid: "mismatch", alg: "ES384"),
            K.rsaJWK(K.rsa, kid: "kept", alg: "RS256"),
        )
        #expect(keys.map(\.id) == ["kept"])
    }

    @Test func aSetWithoutASigningKeyIsAnError() {
        #expect(throws: KeyError.self) { try Self.keySet() }
        #expect(throws: KeyError.self) { try Self.keySet(#"{"kty":"oct","kid":"hmac","k":"c2VjcmV0"}"#) }
        #expect(throws: KeyError.self) { try VerificationKey.keySet(json: #"{"keys":{}}"#) }
        #expect(throws: KeyError.self) { try VerificationKey.keySet(json: "not json") }
        #expect(throws: KeyError.self) { try VerificationKey.keySet(json: #"{"keys":[1]}"#) }
    }

    @Test func aSigningKeyWithoutKidOrWithBadNumbersIsAnError() throws {
        let primitives = try K.rsa.publicKey.getKeyPrimitives()
        let small = try _RSA.Signing.PrivateKey(unsafeKeySize: .init(bitCount: 1024))
        var offCurve = K.p256.publicKey.x963Representation
        offCurve[offCurve.count - 1] ^= 1
        for jwk in [
            #"{"kty":"RSA","n":"\#(K.base64URL(primitives.modulus))","e":"AQAB"}"#,
            #"{"kty":"RSA","kid":"no-e","n":"\#(K.base64URL(primitives.modulus))"}"#,
            #"{"kty":"RSA","kid":"bad-n","n":"not base64!","e":"AQAB"}"#,
            K.rsaJWK(small, kid: "1024-bits", alg: "RS256"),
            K.ecJWK(x963: offCurve, curve: "P-256", kid: "off-curve", alg: nil),
            K.ecJWK(x963: K.p256.publicKey.x963Representation, curve: nil, kid: "neither", alg: nil),
            #"{"kty":"RSA","kid":7,"n":"AQAB","e":"AQAB"}"#,
            #"{"kid":"no-kty"}"#,
        ] {
            #expect(throws: KeyError.self, "\(jwk)") { try Self.keySet(jwk) }
        }
    }

    @Test func paddingInAKeyFileIsForgiven() throws {
        let padded = K.ecJWK(x963: K.p256.publicKey.x963Representation, curve: "P-256", kid: "e", alg: nil)
            .replacingOccurrences(of: #"","y""#, with: #"=","y""#)
        #expect(try Self.keySet(padded).count == 1)
    }

    @Test func aPEMKeyIsRSAOrP256() throws {
        #expect(try VerificationKey(pem: K.rsa.publicKey.pemRepresentation).algorithm == .rs256)
        #expect(try VerificationKey(pem: K.p256.publicKey.pemRepresentation).algorithm == .es256)
        #expect(throws: KeyError.self) { try VerificationKey(pem: K.p384.publicKey.pemRepresentation) }
        #expect(throws: KeyError.self) { try VerificationKey(pem: "not a key") }
        let small = try _RSA.Signing.PrivateKey(unsafeKeySize: .init(bitCount: 1024))
        #expect(throws: KeyError.self) { try VerificationKey(pem: small.publicKey.pemRepresentation) }
    }
}
