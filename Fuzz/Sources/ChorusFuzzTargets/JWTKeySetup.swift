import ChorusServer
import Foundation

/// The ways a hub can be given its JWT keys, each with the API key set too.
enum JWTKeySetup: CaseIterable {
    case secret
    case rsaPublicKey
    case ecPublicKey
    case jwks
    /// Secret and JWKS at once: what a hub does when keys overlap (a public key file cannot
    /// join a secret; the hub refuses that at start).
    case all
    /// EC public key and JWKS at once.
    case publicKeyAndJWKS
    /// No key at all: development mode.
    case none

    /// A hub's authenticator for this setup. Key files are written to a temporary folder that is
    /// removed again once the authenticator has read them.
    func makeAuthenticator() -> Authenticator {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-fuzz-keys-\(UUID())")
        try! FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func file(_ name: String, _ contents: String) -> String {
            let url = folder.appendingPathComponent(name)
            try! contents.write(to: url, atomically: true, encoding: .utf8)
            return url.path
        }

        var configuration = HubConfiguration()
        if self != .none {
            configuration.apiKey = JWTFuzzKeys.apiKey
        }
        if self == .secret || self == .all {
            configuration.jwtSecret = JWTFuzzKeys.secret
        }
        if self == .rsaPublicKey {
            configuration.jwtPublicKeyFile = file("rsa.pem", JWTFuzzKeys.rsaPublicKeyPEM)
        }
        if self == .ecPublicKey || self == .publicKeyAndJWKS {
            configuration.jwtPublicKeyFile = file("ec.pem", FuzzTokenSigner.ecPublicKeyPEM)
        }
        if self == .jwks || self == .all || self == .publicKeyAndJWKS {
            configuration.jwksFile = file("jwks.json", JWTFuzzKeys.jwks)
        }
        return try! Authenticator(configuration: configuration)
    }
}
