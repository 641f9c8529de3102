import ChorusCore
@testable import ChorusServer
import Crypto
import Foundation
import Testing

@Suite struct AuthenticatorTests {
    static let secret = "authenticator-tests-secret-0123456789"

    /// An HS256 token over `claims` as written, put together with Foundation's base64 and
    /// Crypto's HMAC: nothing of the hub's own token code.
    static func token(_ claims: String, secret: String = Self.secret) -> String {
        func base64URL(_ data: Data) -> String {
            data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
        let input = base64URL(Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8)) + "." + base64URL(Data(claims.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return input + "." + base64URL(Data(mac))
    }

    static var now: Int { Int(Date().timeIntervalSince1970) }

    func authenticator(issuer: String? = nil, audience: String? = nil) throws -> Authenticator {
        var configuration = HubConfiguration()
        configuration.jwtSecret = Self.secret
        configuration.jwtIssuer = issuer
        configuration.jwtAudience = audience
        return try Authenticator(configuration: configuration)
    }

    /// The message a refused token gets, or nil when it verifies.
    func refusal(_ claims: String, issuer: String? = nil, audience: String? = nil) throws -> String? {
        do {
            _ = try self.authenticator(issuer: issuer, audience: audience).verify(token: Self.token(claims))
            return nil
        } catch let error as ProtocolError {
            #expect(error.code == .unauthorized)
            return error.message
        }
    }

    // MARK: Expiry

    /// Found by fuzzing (Fuzz/regressions/jwt/exp-beyond-int64-milliseconds): converting such an
    /// `exp` to milliseconds trapped, so any holder of a validly signed token could stop the hub.
    @Test func anExpiryBeyondInt64MillisecondsIsClamped() throws {
        let identity = try self.authenticator().verify(token: Self.token(#"{"sub":"alice","exp":1e17}"#))
        #expect(identity.user == "alice")
        #expect(identity.expiresAt == .max)
    }

    @Test func anExpiryIsKeptInMillisecondsFractionsIncluded() throws {
        #expect(try self.authenticator().verify(token: Self.token(#"{"sub":"bob","exp":4102444800}"#)).expiresAt == 4_102_444_800_000)
        #expect(try self.authenticator().verify(token: Self.token(#"{"sub":"bob","exp":4102444800.2507}"#)).expiresAt == 4_102_444_800_250)
        #expect(try self.authenticator().verify(token: Self.token(#"{"sub":"bob"}"#)).expiresAt == nil)
    }

    /// Clients renew a token whose refusal says "expired" (clients/js/chorus.js).
    @Test func expiredAndNotYetValidTokensAreRefused() throws {
        #expect(try self.refusal(#"{"sub":"a","exp":\#(Self.now - 30)}"#) == "token rejected: expired")
        #expect(try self.refusal(#"{"sub":"a","exp":\#(Self.now - 30).5}"#) == "token rejected: expired")
        #expect(try self.refusal(#"{"sub":"a","nbf":\#(Self.now + 600)}"#)?.contains("'nbf'") == true)
        #expect(try self.refusal(#"{"sub":"a","nbf":\#(Self.now - 30),"exp":\#(Self.now + 600)}"#) == nil)
    }

    // MARK: Claims and their types

    @Test(arguments: [
        (#"{"exp":4102444800}"#, "invalid token: it has no 'sub' claim"),
        (#"{"sub":7}"#, "invalid token: its 'sub' claim is not a string"),
        (#"{"sub":""}"#, "token has an empty 'sub'"),
        (#"{"sub":"a","exp":"4102444800"}"#, "invalid token: its 'exp' claim is not a finite number"),
        (#"{"sub":"a","exp":1e400}"#, "invalid token: its 'exp' claim is not a finite number"),
        (#"{"sub":"a","nbf":true}"#, "invalid token: its 'nbf' claim is not a finite number"),
        (#"{"sub":"a","iss":1}"#, "invalid token: its 'iss' claim is not a string"),
        (#"{"sub":"a","aud":{}}"#, "invalid token: its 'aud' claim is not a string or a list of strings"),
        (#"{"sub":"a","aud":["x",1]}"#, "invalid token: its 'aud' claim is not a string or a list of strings"),
        (#"{"sub":"a","subscribe":"game.*"}"#, "invalid token: its 'subscribe' claim is not a list of strings"),
        (#"{"sub":"a","publish":[null]}"#, "invalid token: its 'publish' claim is not a list of strings"),
        (#"{"sub":"a","direct":"yes"}"#, "invalid token: its 'direct' claim is not true or false"),
    ])
    func claimsOfTheWrongTypeAreRefused(claims: String, message: String) throws {
        #expect(try self.refusal(claims) == message)
    }

    @Test func nullClaimsCountAsAbsent() throws {
        let claims = #"{"sub":"a","exp":null,"nbf":null,"iss":null,"aud":null,"subscribe":null,"publish":null,"direct":null,"extra":[{}]}"#
        let identity = try self.authenticator().verify(token: Self.token(claims))
        #expect(identity == Identity(user: "a", expiresAt: nil, permissions: .unrestricted))
    }

    @Test(arguments: [
        (#"{"sub":"a","iss":"https://id.example","aud":"chorus"}"#, true),
        (#"{"sub":"a","iss":"https://id.example","aud":["other","chorus"]}"#, true),
        (#"{"sub":"a","iss":"https://evil.example","aud":"chorus"}"#, false),
        (#"{"sub":"a","aud":"chorus"}"#, false),
        (#"{"sub":"a","iss":"https://id.example","aud":"other"}"#, false),
        (#"{"sub":"a","iss":"https://id.example","aud":[]}"#, false),
        (#"{"sub":"a","iss":"https://id.example"}"#, false),
    ])
    func issuerAndAudienceWhenConfigured(claims: String, accepted: Bool) throws {
        let refusal = try self.refusal(claims, issuer: "https://id.example", audience: "chorus")
        #expect((refusal == nil) == accepted, "\(refusal ?? "accepted")")
        // Without them configured, the same claims are not looked at.
        #expect(try self.refusal(claims) == nil)
    }

    @Test func subscribeAndPublishClaimsBecomePermissions() throws {
        let identity = try self.authenticator().verify(token: Self.token(#"{"sub":"a","subscribe":["game.*","lobby"],"publish":[]}"#))
        #expect(identity.permissions.subscribe == [try TopicPattern("game.*"), try TopicPattern("lobby")])
        #expect(identity.permissions.publish == [])
        #expect(identity.permissions.direct == nil)
        let direct = try self.authenticator().verify(token: Self.token(#"{"sub":"a","publish":[],"direct":true}"#))
        #expect(direct.permissions.direct == true)
        let refusal = try self.refusal(#"{"sub":"a","subscribe":["game..x"]}"#)
        #expect(refusal?.contains("'subscribe' claim holds an invalid pattern") == true)
    }

    // MARK: Tokens that never reach the claims

    @Test func aTokenThatDoesNotVerifySaysWhy() throws {
        let authenticator = try self.authenticator()
        for (token, reason) in [
            (Self.token(#"{"sub":"a"}"#, secret: "another-secret-0123456789abcdef"), "its signature does not verify"),
            ("not.a.jwt", "a part of it is not base64url"),
            ("e30.e30", "it is not three parts (header.payload.signature)"),
        ] {
            #expect(throws: ProtocolError.self) { try authenticator.verify(token: token) }
            do {
                _ = try authenticator.verify(token: token)
            } catch {
                #expect(error.code == .unauthorized && error.message == "invalid token: \(reason)")
            }
        }
    }

    @Test func aHubWithoutKeysRefusesEveryToken() throws {
        let authenticator = try Authenticator(configuration: HubConfiguration())
        #expect(throws: ProtocolError.self) { try authenticator.verify(token: Self.token(#"{"sub":"a"}"#)) }
    }

    // MARK: Keys

    /// Seen while fuzzing: with both, tokens without a `kid` were checked against the PEM key
    /// only, so HS256 tokens were refused without a word. The combination is now refused at start.
    @Test func aSecretNextToAPublicKeyIsRefusedAtStart() {
        var configuration = HubConfiguration()
        configuration.jwtSecret = Self.secret
        configuration.jwtPublicKeyFile = "/nonexistent.pem"
        #expect(throws: ConfigurationError.self) { try Authenticator(configuration: configuration) }
    }

    @Test func keyFilesAreReadAndUnusableOnesStopTheHub() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-auth-tests-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func file(_ name: String, _ text: String) throws -> String {
            let url = folder.appendingPathComponent(name)
            try text.write(to: url, atomically: true, encoding: .utf8)
            return url.path
        }
        let key = P256.Signing.PrivateKey()
        var configuration = HubConfiguration()
        configuration.jwtPublicKeyFile = try file("ec.pem", key.publicKey.pemRepresentation)
        #expect(throws: Never.self) { try Authenticator(configuration: configuration) }

        configuration.jwtPublicKeyFile = try file("bad.pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
        let badPEM = #expect(throws: ConfigurationError.self) { try Authenticator(configuration: configuration) }
        #expect(badPEM?.message.contains("jwt_public_key") == true)

        configuration.jwtPublicKeyFile = nil
        configuration.jwksFile = try file("jwks.json", #"{"keys":[{"kty":"oct","kid":"k","k":"c2VjcmV0"}]}"#)
        let badJWKS = #expect(throws: ConfigurationError.self) { try Authenticator(configuration: configuration) }
        #expect(badJWKS?.message.contains("jwks_file") == true)
    }

    // MARK: The cache and the API

    @Test func aVerifiedTokenIsRememberedUntilItExpires() throws {
        let authenticator = try self.authenticator()
        let token = Self.token(#"{"sub":"carol","exp":\#(Self.now + 600)}"#)
        let first = try authenticator.verify(token: token)
        #expect(authenticator.verifiedTokens.count == 1)
        #expect(try authenticator.verify(token: token) == first)
        // A refused token is not remembered.
        #expect(throws: ProtocolError.self) { try authenticator.verify(token: token + "x") }
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

    @Test func aClientTokenOnTheAPIOnlyPublishes() throws {
        let authenticator = try self.authenticator()
        let bearer = "Bearer " + Self.token(#"{"sub":"dave"}"#)
        #expect(try authenticator.authorizeAPI(authorization: bearer, allowClientToken: true) == .publisher(Identity(user: "dave", expiresAt: nil)))
        let forbidden = #expect(throws: ProtocolError.self) { try authenticator.authorizeAPI(authorization: bearer, allowClientToken: false) }
        #expect(forbidden?.code == .forbidden)
        let unauthorized = #expect(throws: ProtocolError.self) {
            try authenticator.authorizeAPI(authorization: "Bearer " + Self.token(#"{"sub":"dave"}"#, secret: "x"), allowClientToken: true)
        }
        #expect(unauthorized?.code == .unauthorized)
    }
}
