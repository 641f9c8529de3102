import Foundation
import JWTKit

/// The claims Chorus reads from a client token: `sub` is the user id; `exp` and `nbf` are
/// enforced when present.
public struct ChorusClaims: JWTPayload {
    public var sub: SubjectClaim
    public var exp: ExpirationClaim?
    public var nbf: NotBeforeClaim?

    public init(subject: String, expiresAt: Date?) {
        self.sub = SubjectClaim(value: subject)
        self.exp = expiresAt.map { ExpirationClaim(value: $0) }
        self.nbf = nil
    }

    public func verify(using algorithm: some JWTAlgorithm) async throws {
        try self.exp?.verifyNotExpired()
        try self.nbf?.verifyNotBefore()
    }
}
