import ChorusCore
import ChorusJWT
import Crypto
import CryptoExtras
import Foundation
import Testing

@Suite struct TokenVerifierTests {
    typealias K = TestKeys

    static let secretVerifier = TokenVerifier(defaultKey: .hs256(secret: K.secret), keySet: [])!
    static let rsaVerifier = TokenVerifier(defaultKey: try! VerificationKey(pem: K.rsa.publicKey.pemRepresentation), keySet: [])!
    static let ecVerifier = TokenVerifier(defaultKey: try! VerificationKey(pem: K.p256.publicKey.pemRepresentation), keySet: [])!
    static let keySet = K.keySet(
        K.rsaJWK(K.rsa, kid: "rsa-1", alg: "RS256"),
        K.ecJWK(x963: K.p256.publicKey.x963Representation, curve: "P-256", kid: "ec-1", alg: "ES256"),
        K.rsaJWK(K.rsa, kid: "rs512", alg: "RS512"),
        K.rsaJWK(K.rsa, kid: "ps256", alg: "PS256"),
        K.rsaJWK(K.rsa, kid: "ps384", alg: "PS384"),
        K.rsaJWK(K.rsa, kid: "rsa-no-alg", alg: nil),
        K.ecJWK(x963: K.p384.publicKey.x963Representation, curve: "P-384", kid: "ec-384", alg: nil),
        K.ecJWK(x963: K.p521.publicKey.x963Representation, curve: nil, kid: "ec-521", alg: "ES512"),
        K.ed25519JWK(kid: "ed", alg: "EdDSA"),
    )
    static let jwksVerifier = TokenVerifier(defaultKey: nil, keySet: Self.keySet)!
    static let secretAndJWKSVerifier = TokenVerifier(defaultKey: .hs256(secret: K.secret), keySet: Self.keySet)!

    static func subject(_ verifier: TokenVerifier, _ token: String) throws -> String? {
        try verifier.verify(token)["sub"]?.string
    }

    // MARK: Valid tokens

    @Test func hs256WithTheSecret() throws {
        #expect(try Self.subject(Self.secretVerifier, K.token("HS256", signer: .hmac(K.secret))) == "alice")
    }

    @Test func rs256AndES256FromPEMKeys() throws {
        #expect(try Self.subject(Self.rsaVerifier, K.token("RS256", signer: .rsa(K.rsa, pss: false, bits: 256))) == "alice")
        #expect(try Self.subject(Self.ecVerifier, K.token("ES256", signer: .p256(K.p256))) == "alice")
    }

    @Test(arguments: [
        ("RS256", "rsa-1", TestKeys.Signer.rsa(TestKeys.rsa, pss: false, bits: 256)),
        ("ES256", "ec-1", .p256(TestKeys.p256)),
        ("RS512", "rs512", .rsa(TestKeys.rsa, pss: false, bits: 512)),
        ("PS256", "ps256", .rsa(TestKeys.rsa, pss: true, bits: 256)),
        ("PS384", "ps384", .rsa(TestKeys.rsa, pss: true, bits: 384)),
        ("RS256", "rsa-no-alg", .rsa(TestKeys.rsa, pss: false, bits: 256)),
        ("ES384", "ec-384", .p384(TestKeys.p384)),
        ("ES512", "ec-521", .p521(TestKeys.p521)),
        ("EdDSA", "ed", .ed25519(TestKeys.ed25519)),
    ])
    func everyKeyOfAKeySetByItsKid(alg: String, kid: String, signer: TestKeys.Signer) throws {
        #expect(try Self.subject(Self.jwksVerifier, K.token(alg, kid: kid, signer: signer)) == "alice")
        #expect(try Self.subject(Self.secretAndJWKSVerifier, K.token(alg, kid: kid, signer: signer)) == "alice")
    }

    @Test func theHeaderTypeIsNotLookedAt() throws {
        for header in [#"{"alg":"HS256"}"#, #"{"alg":"HS256","typ":"at+jwt"}"#, #"{"typ":7,"alg":"HS256","cty":"x"}"#] {
            let token = K.token(header: header, claims: #"{"sub":"alice"}"#, signer: .hmac(K.secret))
            #expect(try Self.subject(Self.secretVerifier, token) == "alice")
        }
    }

    @Test func theClaimsComeBackAsWritten() throws {
        let claims = try Self.secretVerifier.verify(K.token("HS256", claims: #"{"sub":"bob","exp":1.5,"custom":{"a":[1]}}"#, signer: .hmac(K.secret)))
        #expect(claims["exp"]?.double == 1.5)
        #expect(claims.keys == ["sub", "exp", "custom"])
    }

    // MARK: Which key

    @Test func withoutAKeySetTheKidIsNotLookedAt() throws {
        #expect(try Self.subject(Self.secretVerifier, K.token("HS256", kid: "v7", signer: .hmac(K.secret))) == "alice")
    }

    @Test func withAKeySetAKidItLacksIsRefused() {
        #expect(throws: TokenError.unknownKeyID) { try Self.jwksVerifier.verify(K.token("RS256", kid: "rsa-2", signer: .rsa(K.rsa, pss: false, bits: 256))) }
        // Not even the default key stands in for a key the set lacks.
        #expect(throws: TokenError.unknownKeyID) { try Self.secretAndJWKSVerifier.verify(K.token("HS256", kid: "v7", signer: .hmac(K.secret))) }
    }

    @Test func withoutAKidTheDefaultKeyOrElseTheSetsFirst() throws {
        #expect(try Self.subject(Self.secretAndJWKSVerifier, K.token("HS256", signer: .hmac(K.secret))) == "alice")
        #expect(throws: TokenError.algorithmNotTheKeys) { try Self.secretAndJWKSVerifier.verify(K.token("RS256", signer: .rsa(K.rsa, pss: false, bits: 256))) }
        #expect(try Self.subject(Self.jwksVerifier, K.token("RS256", signer: .rsa(K.rsa, pss: false, bits: 256))) == "alice")
        #expect(throws: TokenError.algorithmNotTheKeys) { try Self.jwksVerifier.verify(K.token("ES256", signer: .p256(K.p256))) }
    }

    @Test func keysSharingAKidAreChosenByAlgorithm() throws {
        let verifier = TokenVerifier(defaultKey: nil, keySet: K.keySet(
            K.rsaJWK(K.rsa, kid: "shared", alg: "RS256"),
            K.ecJWK(x963: K.p256.publicKey.x963Representation, curve: "P-256", kid: "shared", alg: nil),
        ))!
        #expect(try Self.subject(verifier, K.token("RS256", kid: "shared", signer: .rsa(K.rsa, pss: false, bits: 256))) == "alice")
        #expect(try Self.subject(verifier, K.token("ES256", kid: "shared", signer: .p256(K.p256))) == "alice")
    }

    @Test func aKidThatIsNotAStringIsRefused() throws {
        let token = K.token(header: #"{"alg":"HS256","kid":1}"#, claims: #"{"sub":"alice"}"#, signer: .hmac(K.secret))
        #expect(throws: TokenError.keyIDNotAString) { try Self.secretVerifier.verify(token) }
        let nullKid = K.token(header: #"{"alg":"HS256","kid":null}"#, claims: #"{"sub":"alice"}"#, signer: .hmac(K.secret))
        #expect(try Self.subject(Self.secretAndJWKSVerifier, nullKid) == "alice")
    }

    @Test func noKeyNoVerifier() {
        #expect(TokenVerifier(defaultKey: nil, keySet: []) == nil)
    }

    // MARK: The algorithm is the key's

    @Test func unsignedTokensAreRefused() {
        let unsigned = K.base64URL(Data(#"{"alg":"none","typ":"JWT"}"#.utf8)) + "." + K.base64URL(Data(#"{"sub":"alice"}"#.utf8)) + "."
        for verifier in [Self.secretVerifier, Self.rsaVerifier, Self.jwksVerifier, Self.secretAndJWKSVerifier] {
            #expect(throws: TokenError.unsigned) { try verifier.verify(unsigned) }
        }
        // Signed or not, `none` is never an algorithm a key is for.
        #expect(throws: TokenError.unsigned) { try Self.secretVerifier.verify(K.token("none", signer: .hmac(K.secret))) }
        #expect(throws: TokenError.unsigned) { try Self.jwksVerifier.verify(K.token("none", kid: "rsa-1", signer: .hmac(K.secret))) }
    }

    /// HS256 keyed with the public key's PEM text: the classic confusion, for RSA and EC keys,
    /// and with the PEM text a JWKS key would have.
    @Test func hmacKeyedWithAPublicKeyIsRefused() {
        for (verifier, pem) in [(Self.rsaVerifier, K.rsa.publicKey.pemRepresentation), (Self.ecVerifier, K.p256.publicKey.pemRepresentation)] {
            for text in [pem, pem + "\n"] {
                #expect(throws: TokenError.algorithmNotTheKeys) { try verifier.verify(K.token("HS256", signer: .hmac(text))) }
            }
        }
        #expect(throws: TokenError.algorithmNotTheKeys) {
            try Self.jwksVerifier.verify(K.token("HS256", kid: "rsa-1", signer: .hmac(K.rsa.publicKey.pemRepresentation)))
        }
    }

    @Test func anAlgorithmOfAnotherKindThanTheKeyIsRefused() {
        let rs256 = K.token("RS256", signer: .rsa(K.rsa, pss: false, bits: 256))
        let es256 = K.token("ES256", signer: .p256(K.p256))
        #expect(throws: TokenError.algorithmNotTheKeys) { try Self.ecVerifier.verify(rs256) }
        #expect(throws: TokenError.algorithmNotTheKeys) { try Self.rsaVerifier.verify(es256) }
        #expect(throws: TokenError.algorithmNotTheKeys) { try Self.secretVerifier.verify(rs256) }
        #expect(throws: TokenError.algorithmNotTheKeys) { try Self.secretVerifier.verify(es256) }
        // Same key type, another hash or padding than the key is for.
        #expect(throws: TokenError.algorithmNotTheKeys) { try Self.rsaVerifier.verify(K.token("PS256", signer: .rsa(K.rsa, pss: true, bits: 256))) }
        #expect(throws: TokenError.algorithmNotTheKeys) { try Self.jwksVerifier.verify(K.token("RS256", kid: "rs512", signer: .rsa(K.rsa, pss: false, bits: 256))) }
        #expect(throws: TokenError.algorithmNotTheKeys) { try Self.jwksVerifier.verify(K.token("ES384", kid: "ec-1", signer: .p384(K.p384))) }
        #expect(throws: TokenError.algorithmNotTheKeys) { try Self.secretVerifier.verify(K.token("hs256", signer: .hmac(K.secret))) }
    }

    @Test func aHeaderWithoutAStringAlgIsRefused() {
        for header in [#"{"typ":"JWT"}"#, #"{"alg":256}"#, #"{"alg":null}"#, #"{"alg":["HS256"]}"#] {
            #expect(throws: TokenError.noAlgorithm) { try Self.secretVerifier.verify(K.token(header: header, claims: #"{"sub":"a"}"#, signer: .hmac(K.secret))) }
        }
    }

    @Test func criticalExtensionsAreRefused() {
        let token = K.token(header: #"{"alg":"HS256","crit":["b64"],"b64":false}"#, claims: #"{"sub":"a"}"#, signer: .hmac(K.secret))
        #expect(throws: TokenError.criticalExtension) { try Self.secretVerifier.verify(token) }
    }

    // MARK: Signatures

    @Test func aTamperedPayloadIsRefused() throws {
        let token = K.token("HS256", signer: .hmac(K.secret))
        var parts = token.split(separator: ".").map(String.init)
        parts[1] = K.base64URL(Data(#"{"sub":"mallory"}"#.utf8))
        #expect(throws: TokenError.badSignature) { try Self.secretVerifier.verify(parts.joined(separator: ".")) }
        let rsaToken = K.token("RS256", signer: .rsa(K.rsa, pss: false, bits: 256)).split(separator: ".").map(String.init)
        #expect(throws: TokenError.badSignature) { try Self.rsaVerifier.verify([rsaToken[0], parts[1], rsaToken[2]].joined(separator: ".")) }
    }

    @Test func aSignatureByAnotherKeyIsRefused() {
        #expect(throws: TokenError.badSignature) { try Self.secretVerifier.verify(K.token("HS256", signer: .hmac(K.secret + "x"))) }
        #expect(throws: TokenError.badSignature) { try Self.rsaVerifier.verify(K.token("RS256", signer: .rsa(K.otherRSA, pss: false, bits: 256))) }
        #expect(throws: TokenError.badSignature) { try Self.ecVerifier.verify(K.token("ES256", signer: .p256(K.otherP256))) }
        #expect(throws: TokenError.badSignature) { try Self.jwksVerifier.verify(K.token("ES256", kid: "ec-1", signer: .p256(K.otherP256))) }
    }

    @Test func signaturesOfTheWrongShapeAreRefused() throws {
        let hs256 = K.token("HS256", signer: .hmac(K.secret))
        let input = hs256[..<hs256.lastIndex(of: ".")!]
        let mac = Data(HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: Data(K.secret.utf8))))
        // A truncated HMAC, an ECDSA signature in DER instead of r ‖ s, an empty one.
        #expect(throws: TokenError.badSignature) { try Self.secretVerifier.verify(input + "." + K.base64URL(mac.prefix(16))) }
        #expect(throws: TokenError.badSignature) { try Self.secretVerifier.verify(input + ".") }
        let es256 = K.token("ES256", signer: .p256(K.p256))
        let ecInput = es256[..<es256.lastIndex(of: ".")!]
        let der = try K.p256.signature(for: Data(ecInput.utf8)).derRepresentation
        #expect(throws: TokenError.badSignature) { try Self.ecVerifier.verify(ecInput + "." + K.base64URL(der)) }
    }

    // MARK: Form

    @Test(arguments: ["a.b", "a.b.c.d", "abc", "", "..", "a..b.c"])
    func notThreeParts(token: String) {
        #expect(throws: TokenError.self) { try Self.secretVerifier.verify(token) }
    }

    @Test func twoOrFourPartsAreRefusedAsSuch() {
        let token = K.token("HS256", signer: .hmac(K.secret))
        #expect(throws: TokenError.notThreeParts) { try Self.secretVerifier.verify(String(token[..<token.lastIndex(of: ".")!])) }
        #expect(throws: TokenError.notThreeParts) { try Self.secretVerifier.verify(token + ".") }
        #expect(throws: TokenError.notThreeParts) { try Self.secretVerifier.verify(token + "." + "e30") }
    }

    @Test func partsThatAreNotCanonicalBase64URLAreRefused() {
        let token = K.token("HS256", signer: .hmac(K.secret))
        let parts = token.split(separator: ".").map(String.init)
        // The HMAC is 32 bytes: 43 characters whose last carries 2 unused bits.
        let lastCharacter = parts[2].last!
        let withUnusedBits = String(parts[2].dropLast()) + (lastCharacter == "B" ? "C" : "B")
        for broken in [
            [parts[0], parts[1], parts[2] + "="],
            [parts[0] + "=", parts[1], parts[2]],
            [parts[0], parts[1].replacingOccurrences(of: "e", with: "+"), parts[2]],
            [parts[0], parts[1], withUnusedBits],
            [parts[0], parts[1] + "A", parts[2]],
        ] {
            #expect(throws: TokenError.self) { try Self.secretVerifier.verify(broken.joined(separator: ".")) }
        }
        #expect(throws: TokenError.notBase64URL) { try Self.secretVerifier.verify([parts[0], parts[1], parts[2] + "="].joined(separator: ".")) }
        #expect(throws: TokenError.notBase64URL) { try Self.secretVerifier.verify([parts[0] + "=", parts[1], parts[2]].joined(separator: ".")) }
        #expect(throws: TokenError.notBase64URL) { try Self.secretVerifier.verify([parts[0], parts[1], withUnusedBits].joined(separator: ".")) }
    }

    @Test func aHeaderThatIsNotAJSONObjectIsRefused() {
        for header in ["not json", "[]", #""HS256""#, #"{"alg":"HS256""#, ""] {
            #expect(throws: TokenError.notJSONObject) { try Self.secretVerifier.verify(K.token(header: header, claims: #"{"sub":"a"}"#, signer: .hmac(K.secret))) }
        }
    }

    @Test func signedClaimsThatAreNotAJSONObjectAreRefused() {
        for claims in ["", "[1]", "{\"sub\":", "\u{FF}"] {
            #expect(throws: TokenError.notJSONObject) { try Self.secretVerifier.verify(K.token("HS256", claims: claims, signer: .hmac(K.secret))) }
        }
    }

    @Test func aTokenOverTheLengthLimitIsRefusedUnread() throws {
        let padding = String(repeating: "x", count: TokenVerifier.maxTokenLength)
        let long = K.token("HS256", claims: #"{"sub":"alice","pad":"\#(padding)"}"#, signer: .hmac(K.secret))
        #expect(throws: TokenError.tooLong) { try Self.secretVerifier.verify(long) }
        let fitting = K.token("HS256", claims: #"{"sub":"alice","pad":"\#(padding.prefix(12_000))"}"#, signer: .hmac(K.secret))
        #expect(try Self.subject(Self.secretVerifier, fitting) == "alice")
    }

    @Test func messagesNeverRepeatTheToken() {
        let token = K.token("HS256", kid: "secret-kid-value", signer: .hmac("wrong"))
        for verifier in [Self.secretVerifier, Self.secretAndJWKSVerifier] {
            do {
                _ = try verifier.verify(token)
                Issue.record("verified")
            } catch {
                #expect(!error.description.isEmpty && !error.description.contains("secret-kid-value"))
            }
        }
    }
}
