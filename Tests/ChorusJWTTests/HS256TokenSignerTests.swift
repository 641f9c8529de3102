import ChorusJWT
import Crypto
import Foundation
import Testing

@Suite struct HS256TokenSignerTests {
    static let secret = "hs256-signer-tests-secret-0123456789"

    /// Splits a compact token and checks its signature with Crypto and Foundation only.
    static func verifiedParts(_ token: String, secret: String) throws -> (header: [String: Any], claims: [String: Any]) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        try #require(parts.count == 3)
        func data(_ part: String) throws -> Data {
            var base64 = part.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
            return try #require(Data(base64Encoded: base64))
        }
        let expected = HMAC<SHA256>.authenticationCode(for: Data((parts[0] + "." + parts[1]).utf8), using: SymmetricKey(data: Data(secret.utf8)))
        #expect(try data(parts[2]) == Data(expected))
        let header = try #require(try JSONSerialization.jsonObject(with: data(parts[0])) as? [String: Any])
        let claims = try #require(try JSONSerialization.jsonObject(with: data(parts[1])) as? [String: Any])
        return (header, claims)
    }

    @Test func signsSubjectAndExpiry() throws {
        let token = HS256TokenSigner(secret: Self.secret).token(subject: "alice", expiresAt: 4_102_444_800)
        let (header, claims) = try Self.verifiedParts(token, secret: Self.secret)
        #expect(header["alg"] as? String == "HS256")
        #expect(header["typ"] as? String == "JWT")
        #expect(claims["sub"] as? String == "alice")
        #expect((claims["exp"] as? NSNumber)?.int64Value == 4_102_444_800)
        #expect(claims.count == 2)
    }

    @Test func aTokenWithoutExpiryHasNoExp() throws {
        let token = HS256TokenSigner(secret: Self.secret).token(subject: "bob", expiresAt: nil)
        let (_, claims) = try Self.verifiedParts(token, secret: Self.secret)
        #expect(claims.keys.sorted() == ["sub"])
    }

    @Test func aSubjectWithQuotesAndNonASCIIIsEscapedJSON() throws {
        let subject = "al\"ice\\ \u{1} é 🎉"
        let token = HS256TokenSigner(secret: Self.secret).token(subject: subject, expiresAt: nil)
        let (_, claims) = try Self.verifiedParts(token, secret: Self.secret)
        #expect(claims["sub"] as? String == subject)
    }
}
