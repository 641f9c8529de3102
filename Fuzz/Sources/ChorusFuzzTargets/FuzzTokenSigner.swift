import ChorusCore
import Crypto
import Foundation
import NIOCore

/// Builds compact JWTs (`header.payload.signature`, base64url) from fuzzed pieces.
enum FuzzTokenSigner {
    private static let ecKey = try! P256.Signing.PrivateKey(pemRepresentation: JWTFuzzKeys.ecPrivateKeyPEM)

    /// The public half of the EC key tokens are signed with, for `jwt_public_key`.
    static var ecPublicKeyPEM: String {
        self.ecKey.publicKey.pemRepresentation
    }

    static func token(header: ArraySlice<UInt8>, payload: ArraySlice<UInt8>, signature: ArraySlice<UInt8>) -> String {
        self.signingInput(header: header, payload: payload) + "." + self.base64URL(signature)
    }

    /// Signs with the fuzzing EC key when the header's `alg` is ES256, else with the HS256 secret.
    static func signedToken(header: ArraySlice<UInt8>, payload: ArraySlice<UInt8>) -> String {
        let signingInput = self.signingInput(header: header, payload: payload)
        let algorithm = (try? JSONObject(parsing: ByteBuffer(bytes: header)))?["alg"]?.string
        let signature: Data
        if algorithm == "ES256" {
            signature = try! self.ecKey.signature(for: Data(signingInput.utf8)).rawRepresentation
        } else {
            let key = SymmetricKey(data: Data(JWTFuzzKeys.secret.utf8))
            signature = Data(HMAC<SHA256>.authenticationCode(for: Data(signingInput.utf8), using: key))
        }
        return signingInput + "." + self.base64URL(signature)
    }

    private static func signingInput(header: ArraySlice<UInt8>, payload: ArraySlice<UInt8>) -> String {
        self.base64URL(header) + "." + self.base64URL(payload)
    }

    private static func base64URL(_ bytes: some Collection<UInt8>) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
