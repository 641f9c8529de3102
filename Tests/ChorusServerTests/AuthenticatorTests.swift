import ChorusCore
@testable import ChorusServer
import Foundation
import JWTKit
import Testing

@Suite struct AuthenticatorTests {
    static let secret = "authenticator-tests-secret-0123456789"

    func token(subject: String, expiresAt: Date?) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: Self.secret), digestAlgorithm: .sha256)
        return try await keys.sign(ChorusClaims(subject: subject, expiresAt: expiresAt))
    }

    func authenticator() async throws -> Authenticator {
        var configuration = HubConfiguration()
        configuration.jwtSecret = Self.secret
        return try await Authenticator(configuration: configuration)
    }

    /// Found by fuzzing (Fuzz/regressions/jwt/exp-beyond-int64-milliseconds): converting such an
    /// `exp` to milliseconds trapped, so any holder of a validly signed token could stop the hub.
    @Test func anExpiryBeyondInt64MillisecondsIsClamped() async throws {
        let token = try await self.token(subject: "alice", expiresAt: Date(timeIntervalSince1970: 1e17))
        let identity = try await self.authenticator().verify(token: token)
        #expect(identity.user == "alice")
        #expect(identity.expiresAt == .max)
    }

    @Test func anOrdinaryExpiryIsKeptInMilliseconds() async throws {
        let token = try await self.token(subject: "bob", expiresAt: Date(timeIntervalSince1970: 4_102_444_800))
        let identity = try await self.authenticator().verify(token: token)
        #expect(identity.expiresAt == 4_102_444_800_000)
    }

    /// Seen while fuzzing: with both, tokens without a `kid` were checked against the PEM key
    /// only, so HS256 tokens were refused without a word. The combination is now refused at start.
    @Test func aSecretNextToAPublicKeyIsRefusedAtStart() async throws {
        var configuration = HubConfiguration()
        configuration.jwtSecret = Self.secret
        configuration.jwtPublicKeyFile = "/nonexistent.pem"
        await #expect(throws: ConfigurationError.self) { try await Authenticator(configuration: configuration) }
    }

    @Test func aVerifiedTokenIsRememberedUntilItExpires() async throws {
        let authenticator = try await self.authenticator()
        let token = try await self.token(subject: "carol", expiresAt: Date(timeIntervalSinceNow: 600))
        let first = try await authenticator.verify(token: token)
        #expect(authenticator.verifiedTokens.count == 1)
        #expect(try await authenticator.verify(token: token) == first)
        // A refused token is not remembered.
        await #expect(throws: ProtocolError.self) { try await authenticator.verify(token: token + "x") }
        #expect(authenticator.verifiedTokens.count == 1)
    }

    @Test func theCacheForgetsExpiredTokensAndStartsOverWhenFull() {
        let cache = VerifiedTokenCache(capacity: 2)
        cache.remember(Identity(user: "old", expiresAt: 1_000), for: "a")
        #expect(cache.identity(for: "a", nowMilliseconds: 999)?.user == "old")
        #expect(cache.identity(for: "a", nowMilliseconds: 1_000) == nil)
        cache.remember(Identity(user: "b", expiresAt: nil), for: "b")
        cache.remember(Identity(user: "c", expiresAt: nil), for: "c")
        cache.remember(Identity(user: "d", expiresAt: nil), for: "d")
        #expect(cache.count == 1 && cache.identity(for: "d", nowMilliseconds: 0)?.user == "d")
    }
}
