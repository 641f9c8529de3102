import ChorusCore
import ChorusServer
import Foundation

/// Drives ``Authenticator`` — ChorusJWT's token parsing, key choice and signature checks, then
/// the claim checks — with fuzzed tokens, for every way a hub can be given its keys.
///
/// The first byte picks the hub's keys, the second how the rest becomes a credential:
/// 0: the rest is the token as written;
/// 1: header JSON, payload JSON and signature bytes, each base64url-encoded into a token;
/// 2: header JSON and payload JSON, signed with the key the header's `alg` names, so that
///    tokens get past the signature to the claims;
/// 3: the rest is an HTTP `Authorization` header for the API.
enum JWTHarness {
    static let authenticators = JWTKeySetup.allCases.map { $0.makeAuthenticator() }

    static func run(_ input: UnsafeRawBufferPointer) {
        var fuzzInput = FuzzInput(input)
        let authenticator = self.authenticators[fuzzInput.choice(of: self.authenticators.count)]
        switch fuzzInput.choice(of: 4) {
        case 0:
            self.verify(String(fuzzed: fuzzInput.rest()), with: authenticator)
        case 1:
            let header = fuzzInput.piece()
            let payload = fuzzInput.piece()
            self.verify(FuzzTokenSigner.token(header: header, payload: payload, signature: fuzzInput.rest()), with: authenticator)
        case 2:
            let header = fuzzInput.piece()
            let payload = fuzzInput.piece()
            self.verify(FuzzTokenSigner.signedToken(header: header, payload: payload), with: authenticator)
        default:
            self.authorizeAPI(String(fuzzed: fuzzInput.rest()), with: authenticator)
        }
    }

    private static func verify(_ token: String, with authenticator: Authenticator) {
        switch Result(catching: { () throws(ProtocolError) in try authenticator.verify(token: token) }) {
        case .success(let identity):
            precondition(identity.user?.isEmpty == false, "token \(token) verified without a user")
        case .failure(let error):
            precondition(error.code == .unauthorized && !error.message.isEmpty, "token \(token) failed with \(error)")
        }
    }

    private static func authorizeAPI(_ authorization: String, with authenticator: Authenticator) {
        let result = Result { () throws(ProtocolError) in try authenticator.authorizeAPI(authorization: authorization, allowClientToken: true) }
        if case .failure(let error) = result {
            precondition(error.code == .unauthorized && !error.message.isEmpty, "'\(authorization)' failed with \(error)")
        }
    }
}
