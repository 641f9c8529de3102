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
    public let algorithm: JWSAlgorithm
    private let material: Material

    enum Material: Sendable {
        case secret(SymmetricKey)
        case rsa(_RSA.Signing.PublicKey)
        case p256(P256.Signing.PublicKey)
        case p384(P384.Signing.PublicKey)
        case p521(P521.Signing.PublicKey)
        case ed25519(Curve25519.Signing.PublicKey)
    }

    /// Callers pair the material with an algorithm of its kind (``isValidSignature(_:for:)``
    /// refuses every signature of a mismatched pair).
    init(_ algorithm: JWSAlgorithm, _ material: Material) {
        self.algorithm = algorithm
        self.material = material
    }

    /// The HS256 key of a shared secret (`jwt_secret`).
    public static func hs256(secret: String) -> VerificationKey {
        VerificationKey(.hs256, .secret(SymmetricKey(data: Array(secret.utf8))))
    }

    /// A public key in PEM form (`jwt_public_key`): RSA of 2048 bits or more for RS256, or
    /// P-256 for ES256.
    public init(pem: String) throws(KeyError) {
        if let rsa = try? _RSA.Signing.PublicKey(pemRepresentation: pem) {
            self.init(.rs256, .rsa(rsa))
        } else if let p256 = try? P256.Signing.PublicKey(pemRepresentation: pem) {
            self.init(.es256, .p256(p256))
        } else {
            throw KeyError("neither an RSA public key of 2048 bits or more nor a P-256 public key in PEM form")
        }
    }

    /// Whether `signature` signs `signingInput` (a token's `header.payload` text) with this key.
    /// HMAC codes are compared in constant time.
    func isValidSignature(_ signature: [UInt8], for signingInput: UnsafeRawBufferPointer) -> Bool {
        switch self.material {
        case .secret(let key):
            return self.algorithm == .hs256 && signature.count == SHA256.byteCount
                && HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: signingInput, using: key)
        case .rsa(let key):
            return self.isValidRSASignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: signingInput, with: key)
        case .p256(let key):
            guard let signature = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return self.algorithm == .es256 && key.isValidSignature(signature, for: signingInput)
        case .p384(let key):
            guard let signature = try? P384.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return self.algorithm == .es384 && key.isValidSignature(signature, for: signingInput)
        case .p521(let key):
            guard let signature = try? P521.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return self.algorithm == .es512 && key.isValidSignature(signature, for: signingInput)
        case .ed25519(let key):
            return self.algorithm == .edDSA && key.isValidSignature(signature, for: signingInput)
        }
    }

    /// RS… is RSASSA-PKCS1-v1_5, PS… is RSASSA-PSS, each over the SHA-2 its number names.
    private func isValidRSASignature(
        _ signature: _RSA.Signing.RSASignature, for input: UnsafeRawBufferPointer, with key: _RSA.Signing.PublicKey
    ) -> Bool {
        switch self.algorithm {
        case .rs256: key.isValidSignature(signature, for: SHA256.hash(data: input), padding: .insecurePKCS1v1_5)
        case .rs384: key.isValidSignature(signature, for: SHA384.hash(data: input), padding: .insecurePKCS1v1_5)
        case .rs512: key.isValidSignature(signature, for: SHA512.hash(data: input), padding: .insecurePKCS1v1_5)
        case .ps256: key.isValidSignature(signature, for: SHA256.hash(data: input), padding: .PSS)
        case .ps384: key.isValidSignature(signature, for: SHA384.hash(data: input), padding: .PSS)
        case .ps512: key.isValidSignature(signature, for: SHA512.hash(data: input), padding: .PSS)
        case .hs256, .es256, .es384, .es512, .edDSA: false
        }
    }
}
