import ChorusCore
import Foundation
import JWTKit

/// Verifies client tokens (JWT) and HTTP API credentials.
///
/// Tokens are verified once, when a connection authenticates; the expiry is then enforced by
/// the connection's own sweep, not by verifying again per frame.
public struct Authenticator: Sendable {
    /// Nil when no JWT key is configured: every token is then refused.
    private let keys: JWTKeyCollection?
    private let apiKey: String?
    private let issuer: String?
    private let audience: String?
    let verifiedTokens = VerifiedTokenCache()
    public let anonymousAllowed: Bool
    public let developmentMode: Bool

    /// What an HTTP API caller may do.
    public enum APIAccess: Sendable, Equatable {
        /// API key, or development mode: everything.
        case admin
        /// A valid client token: publishing only.
        case publisher(Identity)
    }

    public init(configuration: HubConfiguration) async throws(ConfigurationError) {
        self.apiKey = configuration.apiKey
        self.issuer = configuration.jwtIssuer
        self.audience = configuration.jwtAudience
        self.anonymousAllowed = configuration.anonymousAllowed
        self.developmentMode = configuration.isDevelopmentMode
        if configuration.jwtSecret == nil, configuration.jwtPublicKeyFile == nil, configuration.jwksFile == nil {
            self.keys = nil
            return
        }
        guard configuration.jwtSecret == nil || configuration.jwtPublicKeyFile == nil else {
            // Neither key has a `kid`, and a token without one is checked against one default
            // key only: one of the two would silently never verify anything.
            throw ConfigurationError(
                "jwt_secret and jwt_public_key cannot be used together: tokens carry no 'kid' to choose between them. "
                    + "Use one of them, or put the public keys in a jwks_file (whose keys have a 'kid')."
            )
        }
        let keys = JWTKeyCollection()
        if let secret = configuration.jwtSecret {
            await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        }
        if let path = configuration.jwtPublicKeyFile {
            let pem = try Self.read(path, what: "jwt_public_key")
            if let rsa = try? Insecure.RSA.PublicKey(pem: pem) {
                await keys.add(rsa: rsa, digestAlgorithm: .sha256)
            } else if let ecdsa = try? ES256PublicKey(pem: pem) {
                await keys.add(ecdsa: ecdsa)
            } else {
                throw ConfigurationError("jwt_public_key: '\(path)' holds neither an RSA nor a P-256 public key in PEM form")
            }
        }
        if let path = configuration.jwksFile {
            let json = try Self.read(path, what: "jwks_file")
            do {
                try await keys.add(jwksJSON: json)
            } catch {
                throw ConfigurationError("jwks_file: '\(path)' is not a usable JSON Web Key Set: \(error)")
            }
        }
        self.keys = keys
    }

    private static func read(_ path: String, what: String) throws(ConfigurationError) -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError("\(what): cannot read '\(path)'")
        }
        return text
    }

    /// Verifies a client token: signature, `exp`, `nbf`, and a non-empty `sub` (and `iss`, `aud`
    /// when configured). A token verified before and not expired since is not verified again.
    public func verify(token: String) async throws(ProtocolError) -> Identity {
        if let identity = self.verifiedTokens.identity(for: token, nowMilliseconds: WallClock.milliseconds()) {
            return identity
        }
        let identity = try await self.verifyUncached(token: token)
        self.verifiedTokens.remember(identity, for: token)
        return identity
    }

    private func verifyUncached(token: String) async throws(ProtocolError) -> Identity {
        guard let keys = self.keys else {
            throw ProtocolError(.unauthorized, "this hub has no JWT key configured; connect without a token")
        }
        let claims: ChorusClaims
        do {
            claims = try await keys.verify(token, as: ChorusClaims.self)
        } catch let error as JWTError where error.errorType == .claimVerificationFailure {
            throw ProtocolError(.unauthorized, "token rejected: \(error.reason ?? "claim verification failed")")
        } catch {
            throw ProtocolError(.unauthorized, "invalid token")
        }
        guard !claims.sub.value.isEmpty else { throw ProtocolError(.unauthorized, "token has an empty 'sub'") }
        if let issuer = self.issuer, claims.iss?.value != issuer {
            throw ProtocolError(.unauthorized, "token rejected: its issuer ('iss') is not the one this hub accepts")
        }
        if let audience = self.audience, (try? claims.aud?.verifyIntendedAudience(includes: audience)) == nil {
            throw ProtocolError(.unauthorized, "token rejected: its audience ('aud') does not include this hub")
        }
        let expiresAt = claims.exp.map { exp in
            // A signed token may carry any `exp`; one beyond Int64 milliseconds must not trap
            // (found by fuzzing). An `exp` in the past was rejected above, so only the top clamps.
            let milliseconds = (exp.value.timeIntervalSince1970 * 1000).rounded(.down)
            return Int64(exactly: milliseconds) ?? .max
        }
        let permissions = TokenPermissions(
            subscribe: try TokenPermissions.patterns(claims.subscribe, claim: "subscribe"),
            publish: try TokenPermissions.patterns(claims.publish, claim: "publish")
        )
        return Identity(user: claims.sub.value, expiresAt: expiresAt, permissions: permissions)
    }

    /// Authorizes an HTTP API call from its `Authorization` header.
    /// - Parameter allowClientToken: whether a client token (not only the API key) suffices.
    public func authorizeAPI(authorization: String?, allowClientToken: Bool) async throws(ProtocolError) -> APIAccess {
        guard let authorization else {
            if self.developmentMode { return .admin }
            throw ProtocolError(.unauthorized, "missing 'Authorization: Bearer <api key>' header")
        }
        guard authorization.lowercased().hasPrefix("bearer ") else {
            throw ProtocolError(.unauthorized, "the Authorization header must be 'Bearer <credential>'")
        }
        let credential = String(authorization.dropFirst("bearer ".count)).trimmingCharacters(in: .whitespaces)
        if let apiKey = self.apiKey, Self.constantTimeEqual(credential, apiKey) {
            return .admin
        }
        if self.developmentMode { return .admin }
        if self.keys != nil, let identity = try? await self.verify(token: credential) {
            // Authenticated, but a client token only ever publishes.
            guard allowClientToken else {
                throw ProtocolError(.forbidden, "a client token may only publish; this endpoint needs the API key")
            }
            return .publisher(identity)
        }
        throw ProtocolError(.unauthorized, allowClientToken ? "invalid API key or token" : "invalid API key")
    }

    /// Compares secrets without leaking, through timing, how long a matching prefix is.
    static func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool {
        let a = Array(lhs.utf8)
        let b = Array(rhs.utf8)
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }
}
