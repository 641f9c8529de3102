import ChorusCore
import ChorusJWT
import Testing

/// Tokens PyJWT signed (`make-pyjwt-fixtures.py`), verified here: the two implementations agree
/// on base64url, the signing input and every signature format.
@Suite struct PyJWTFixtureTests {
    typealias F = PyJWTFixtures

    static func claims(_ verifier: TokenVerifier?, _ token: String) throws -> JSONObject {
        try #require(verifier).verify(token)
    }

    @Test func defaultKeys() throws {
        let secret = TokenVerifier(defaultKey: .hs256(secret: F.secret), keySet: [])
        let rsa = TokenVerifier(defaultKey: try VerificationKey(pem: F.rsaPublicKeyPEM), keySet: [])
        let ec = TokenVerifier(defaultKey: try VerificationKey(pem: F.ecPublicKeyPEM), keySet: [])
        for (verifier, token) in [(secret, F.hs256), (rsa, F.rs256), (ec, F.es256)] {
            let claims = try Self.claims(verifier, token)
            #expect(claims["sub"]?.string == "py-user")
            #expect(claims["exp"]?.int64 == 4_102_444_800)
            #expect(claims["aud"]?.elements?.compactMap(\.string) == ["chorus", "other"])
        }
        #expect(throws: TokenError.algorithmNotTheKeys) { try Self.claims(ec, F.rs256) }
        #expect(throws: TokenError.algorithmNotTheKeys) { try Self.claims(rsa, F.hs256) }
    }

    @Test(arguments: [F.rs256Kid, F.ps256Kid, F.es256Kid, F.es384Kid, F.edDSAKid])
    func keySetKeys(token: String) throws {
        let verifier = TokenVerifier(defaultKey: nil, keySet: try VerificationKey.keySet(json: F.jwks))
        #expect(try Self.claims(verifier, token)["subscribe"]?.elements?.first?.string == "game.*")
    }
}
