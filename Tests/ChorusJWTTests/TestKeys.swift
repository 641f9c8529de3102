import ChorusJWT
import Crypto
import CryptoExtras
import Foundation

/// Private keys for signing test tokens, and their public halves in the forms a hub is given.
///
/// Tokens are put together here with Foundation's base64 and signed with Crypto's private keys,
/// not with anything from ChorusJWT, so the verifier is checked against an independent signer.
enum TestKeys {
    static let secret = "token-verifier-tests-secret-0123456789"
    static let rsa = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let otherRSA = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let p256 = P256.Signing.PrivateKey()
    static let otherP256 = P256.Signing.PrivateKey()
    static let p384 = P384.Signing.PrivateKey()
    static let p521 = P521.Signing.PrivateKey()
    static let ed25519 = Curve25519.Signing.PrivateKey()

    enum Signer {
        case hmac(String)
        case rsa(_RSA.Signing.PrivateKey, pss: Bool, bits: Int)
        case p256(P256.Signing.PrivateKey)
        case p384(P384.Signing.PrivateKey)
        case p521(P521.Signing.PrivateKey)
        case ed25519(Curve25519.Signing.PrivateKey)

        func signature(for input: Data) -> Data {
            switch self {
            case .hmac(let secret):
                return Data(HMAC<SHA256>.authenticationCode(for: input, using: SymmetricKey(data: Data(secret.utf8))))
            case .rsa(let key, let pss, let bits):
                let padding: _RSA.Signing.Padding = pss ? .PSS : .insecurePKCS1v1_5
                let signature = switch bits {
                case 384: try! key.signature(for: SHA384.hash(data: input), padding: padding)
                case 512: try! key.signature(for: SHA512.hash(data: input), padding: padding)
                default: try! key.signature(for: SHA256.hash(data: input), padding: padding)
                }
                return signature.rawRepresentation
            case .p256(let key): return try! key.signature(for: input).rawRepresentation
            case .p384(let key): return try! key.signature(for: input).rawRepresentation
            case .p521(let key): return try! key.signature(for: input).rawRepresentation
            case .ed25519(let key): return try! key.signature(for: input)
            }
        }
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// `header.payload.signature`, the JSON texts taken as written.
    static func token(header: String, claims: String, signer: Signer) -> String {
        let input = Self.base64URL(Data(header.utf8)) + "." + Self.base64URL(Data(claims.utf8))
        return input + "." + Self.base64URL(signer.signature(for: Data(input.utf8)))
    }

    /// A token for `alg` (and `kid`) with claims `{"sub":"alice"}` unless given.
    static func token(_ alg: String, kid: String? = nil, claims: String = #"{"sub":"alice"}"#, signer: Signer) -> String {
        let header = #"{"alg":"\#(alg)","typ":"JWT""# + (kid.map { #","kid":"\#($0)""# } ?? "") + "}"
        return Self.token(header: header, claims: claims, signer: signer)
    }

    static func rsaJWK(_ key: _RSA.Signing.PrivateKey, kid: String, alg: String?) -> String {
        let primitives = try! key.publicKey.getKeyPrimitives()
        let members = [
            #""kty":"RSA""#, #""kid":"\#(kid)""#, alg.map { #""alg":"\#($0)""# },
            #""n":"\#(Self.base64URL(primitives.modulus))""#, #""e":"\#(Self.base64URL(primitives.publicExponent))""#,
        ]
        return "{" + members.compactMap { $0 }.joined(separator: ",") + "}"
    }

    /// An EC JWK from the x9.63 form of its public key (0x04 ‖ x ‖ y).
    static func ecJWK(x963: Data, curve: String?, kid: String, alg: String?) -> String {
        let coordinates = x963.dropFirst()
        let half = coordinates.count / 2
        let members = [
            #""kty":"EC""#, #""kid":"\#(kid)""#, alg.map { #""alg":"\#($0)""# }, curve.map { #""crv":"\#($0)""# },
            #""x":"\#(Self.base64URL(coordinates.prefix(half)))""#, #""y":"\#(Self.base64URL(coordinates.suffix(half)))""#,
        ]
        return "{" + members.compactMap { $0 }.joined(separator: ",") + "}"
    }

    static func ed25519JWK(kid: String, alg: String?) -> String {
        let x = Self.base64URL(Self.ed25519.publicKey.rawRepresentation)
        return #"{"kty":"OKP","crv":"Ed25519","kid":"\#(kid)""# + (alg.map { #","alg":"\#($0)""# } ?? "") + #","x":"\#(x)"}"#
    }

    static func keySet(_ keys: String...) -> [(id: String, key: VerificationKey)] {
        try! VerificationKey.keySet(json: #"{"keys":["# + keys.joined(separator: ",") + "]}")
    }
}
