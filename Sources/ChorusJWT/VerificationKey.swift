import Crypto
import CryptoExtras
import Foundation

/// A key that checks token signatures, bound to the one algorithm it is for.
///
/// The algorithm belongs to the key, never to the token: a token that names another one is
/// refused before its signature is looked at. So an RSA or EC public key is never used as an
/// HMAC secret (the classic confusion: HS256 keyed with the PEM text), and a key of one kind is
/// never checked as another.
public struct VerificationKey: Sendable {
    /// The one algorithm tokens verified with this key must use.
    public let algorithm: JWSAlgorithm
    /// Whether a signature signs the signing input, by a closure over the key. (An enum of key
    /// kinds would do, but Swift keeps its case in the spare bits of the key's pointer, and
    /// LeakSanitizer, no longer recognising the pointer, reports every key as leaked.)
    private let check: @Sendable (_ signature: [UInt8], _ signingInput: UnsafeRawBufferPointer) -> Bool

    private init(_ algorithm: JWSAlgorithm, check: @escaping @Sendable ([UInt8], UnsafeRawBufferPointer) -> Bool) {
        self.algorithm = algorithm
        self.check = check
    }

    /// Whether `signature` signs `signingInput` (a token's `header.payload` text) with this key.
    func isValidSignature(_ signature: [UInt8], for signingInput: UnsafeRawBufferPointer) -> Bool {
        self.check(signature, signingInput)
    }

    /// The HS256 key of a shared secret (`jwt_secret`). Codes are compared in constant time.
    public static func hs256(secret: String) -> VerificationKey {
        let key = SymmetricKey(data: Array(secret.utf8))
        return VerificationKey(.hs256) { signature, input in
            signature.count == SHA256.byteCount && HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: input, using: key)
        }
    }

    /// A public key in PEM form (`jwt_public_key`): RSA of 2048 bits or more for RS256, or
    /// P-256 for ES256.
    public init(pem: String) throws(KeyError) {
        if let rsa = try? _RSA.Signing.PublicKey(pemRepresentation: pem) {
            self = Self.rsa(rsa, .rs256, SHA256.self, padding: .insecurePKCS1v1_5)
        } else if let p256 = try? P256.Signing.PublicKey(pemRepresentation: pem) {
            self = Self.es256(p256)
        } else {
            throw KeyError("neither an RSA public key of 2048 bits or more nor a P-256 public key in PEM form")
        }
    }

    /// An RSA key for `algorithm`, or nil when that is not an RSA algorithm. RS… is
    /// RSASSA-PKCS1-v1_5, PS… is RSASSA-PSS, each over the SHA-2 its number names.
    static func rsa(_ key: _RSA.Signing.PublicKey, for algorithm: JWSAlgorithm) -> VerificationKey? {
        switch algorithm {
        case .rs256: Self.rsa(key, algorithm, SHA256.self, padding: .insecurePKCS1v1_5)
        case .rs384: Self.rsa(key, algorithm, SHA384.self, padding: .insecurePKCS1v1_5)
        case .rs512: Self.rsa(key, algorithm, SHA512.self, padding: .insecurePKCS1v1_5)
        case .ps256: Self.rsa(key, algorithm, SHA256.self, padding: .PSS)
        case .ps384: Self.rsa(key, algorithm, SHA384.self, padding: .PSS)
        case .ps512: Self.rsa(key, algorithm, SHA512.self, padding: .PSS)
        case .hs256, .es256, .es384, .es512, .edDSA: nil
        }
    }

    private static func rsa<Hash: HashFunction>(
        _ key: _RSA.Signing.PublicKey, _ algorithm: JWSAlgorithm, _: Hash.Type, padding: _RSA.Signing.Padding
    ) -> VerificationKey {
        VerificationKey(algorithm) { signature, input in
            key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: Hash.hash(data: input), padding: padding)
        }
    }

    /// ECDSA signatures in a JWS are r ‖ s (RFC 7518 §3.4), not DER.
    static func es256(_ key: P256.Signing.PublicKey) -> VerificationKey {
        VerificationKey(.es256) { signature, input in
            (try? P256.Signing.ECDSASignature(rawRepresentation: signature)).map { key.isValidSignature($0, for: input) } ?? false
        }
    }

    static func es384(_ key: P384.Signing.PublicKey) -> VerificationKey {
        VerificationKey(.es384) { signature, input in
            (try? P384.Signing.ECDSASignature(rawRepresentation: signature)).map { key.isValidSignature($0, for: input) } ?? false
        }
    }

    static func es512(_ key: P521.Signing.PublicKey) -> VerificationKey {
        VerificationKey(.es512) { signature, input in
            (try? P521.Signing.ECDSASignature(rawRepresentation: signature)).map { key.isValidSignature($0, for: input) } ?? false
        }
    }

    static func edDSA(_ key: Curve25519.Signing.PublicKey) -> VerificationKey {
        VerificationKey(.edDSA) { signature, input in key.isValidSignature(signature, for: input) }
    }
}
