public import ChorusCore
import ChorusJWT
import Foundation

/// Verifies client tokens (JWT) and HTTP API credentials.
///
/// Tokens are verified once, when a connection authenticates, synchronously on the caller's
/// thread (the connection's event loop); the expiry is then enforced by the connection's own
/// sweep, not by verifying again per frame.
public struct Authenticator: Sendable {
    /// Nil when no JWT key is configured: every token is then refused.
    private let verifier: TokenVerifier?
    private let apiKey: String?
    private let issuer: String?
    private let audience: String?
    let verifiedTokens = VerifiedTokenCache()
    /// Whether clients may connect without a token.
    public let anonymousAllowed: Bool
    /// Whether no credential is configured (development mode: loopback only, everything allowed).
    public let developmentMode: Bool

    /// What an HTTP API caller may do.
    public enum APIAccess: Sendable, Equatable {
        /// API key, or development mode: everything.
        case admin
        /// A valid client token: publishing only.
        case publisher(Identity)
    }

    /// Loads the keys `configuration` names; a key that cannot be used is an error.
    public init(configuration: HubConfiguration) throws(ConfigurationError) {
        self.apiKey = configuration.apiKey
        self.issuer = configuration.jwtIssuer
        self.audience = configuration.jwtAudience
        self.anonymousAllowed = configuration.anonymousAllowed
        self.developmentMode = configuration.isDevelopmentMode
        guard configuration.jwtSecret == nil || configuration.jwtPublicKeyFile == nil else {
            // Neither key has a `kid`, and a token without one is checked against one default
            // key only: one of the two would silently never verify anything.
            throw ConfigurationError(
                "jwt_secret and jwt_public_key cannot be used together: tokens carry no 'kid' to choose between them. "
                    + "Use one of them, or put the public keys in a jwks_file (whose keys have a 'kid')."
            )
        }
        var defaultKey = configuration.jwtSecret.map(VerificationKey.hs256(secret:))
        if let path = configuration.jwtPublicKeyFile {
            let pem = try Self.read(path, what: "jwt_public_key")
            do {
                defaultKey = try VerificationKey(pem: pem)
            } catch {
                throw ConfigurationError("jwt_public_key: '\(path)' holds \(error)")
            }
        }
        var keySet: [(id: String, key: VerificationKey)] = []
        if let path = configuration.jwksFile {
            let json = try Self.read(path, what: "jwks_file")
            do {
                keySet = try VerificationKey.keySet(json: json)
            } catch {
                throw ConfigurationError("jwks_file: '\(path)' is not a usable JSON Web Key Set: \(error)")
            }
        }
        self.verifier = TokenVerifier(defaultKey: defaultKey, keySet: keySet)
    }

    private static func read(_ path: String, what: String) throws(ConfigurationError) -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError("\(what): cannot read '\(path)'")
        }
        return text
    }

    /// Verifies a client token: signature, `exp`, `nbf`, and a non-empty `sub` (and `iss`, `aud`
    /// when configured). A token verified before and not expired since is not verified again.
    public func verify(token: String) throws(ProtocolError) -> Identity {
        let now = WallClock.milliseconds()
        if let identity = self.verifiedTokens.identity(for: token, nowMilliseconds: now) {
            return identity
        }
        do {
            let identity = try self.verifyUncached(token: token, nowMilliseconds: now)
            self.verifiedTokens.remember(identity, for: token)
            return identity
        } catch {
            // Only an expired token is worth renewing; every other refusal is final.
            var refusal = error
            refusal.reason = refusal.reason ?? .tokenInvalid
            throw refusal
        }
    }

    private func verifyUncached(token: String, nowMilliseconds: Int64) throws(ProtocolError) -> Identity {
        guard let verifier = self.verifier else {
            throw ProtocolError(.unauthorized, "this hub has no JWT key configured; connect without a token")
        }
        let claims: JSONObject
        do {
            claims = try verifier.verify(token)
        } catch {
            throw ProtocolError(.unauthorized, "invalid token: \(error)")
        }
        return try TokenClaims(claims).identity(nowSeconds: Double(nowMilliseconds) / 1000, issuer: self.issuer, audience: self.audience)
    }

    /// Authorizes an HTTP API call from its `Authorization` header.
    /// - Parameter allowClientToken: whether a client token (not only the API key) suffices.
    public func authorizeAPI(authorization: String?, allowClientToken: Bool) throws(ProtocolError) -> APIAccess {
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
        if self.verifier != nil {
            let identity: Identity
            do {
                identity = try self.verify(token: credential)
            } catch where error.reason == .tokenExpired {
                // The same words and reason as over WebSocket: the client should renew it.
                throw error
            } catch {
                throw ProtocolError(.unauthorized, allowClientToken ? "invalid API key or token" : "invalid API key", reason: .tokenInvalid)
            }
            guard allowClientToken else {
                throw ProtocolError(
                    .forbidden,
                    "a client token may publish, broadcast and read history, not use this endpoint: it needs the API key"
                )
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
