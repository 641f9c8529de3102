import Foundation
import JWTKit

/// The claims Chorus reads from a client token: `sub` is the user id; `exp` and `nbf` are
/// enforced when present, `iss` and `aud` when the hub is configured to expect them.
/// `subscribe` and `publish`, when present, list the topic patterns the client may use.
public struct ChorusClaims: JWTPayload {
    public var sub: SubjectClaim
    public var exp: ExpirationClaim?
    public var nbf: NotBeforeClaim?
    public var iss: IssuerClaim?
    public var aud: AudienceClaim?
    public var subscribe: [String]?
    public var publish: [String]?

    public init(subject: String, expiresAt: Date?, subscribe: [String]? = nil, publish: [String]? = nil) {
        self.sub = SubjectClaim(value: subject)
        self.exp = expiresAt.map { ExpirationClaim(value: $0) }
        self.subscribe = subscribe
        self.publish = publish
    }

    public func verify(using algorithm: some JWTAlgorithm) async throws {
        try self.exp?.verifyNotExpired()
        try self.nbf?.verifyNotBefore()
    }
}
