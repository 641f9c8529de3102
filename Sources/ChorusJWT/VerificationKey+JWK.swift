import ChorusCore
import Crypto
import CryptoExtras
import NIOCore

extension VerificationKey {
    /// The signing keys of a JSON Web Key Set (RFC 7517 §5) with their `kid`, in the order written.
    ///
    /// Keys this hub cannot verify signatures with are left out, as a set published for many
    /// uses holds them: `use` other than `sig`, `kty` other than `RSA`, `EC` and `OKP`, an `alg`
    /// that is not a ``JWSAlgorithm`` of the key's type, an `OKP` curve other than Ed25519.
    /// Without `alg`, an RSA key is for RS256, an EC key for the ES… of its curve, an Ed25519
    /// key for EdDSA. A signing key without `kid` or with unusable numbers (an RSA modulus under
    /// 2048 bits, a point off its curve) is an error, and so is a set left with no key.
    public static func keySet(json: String) throws(KeyError) -> [(id: String, key: VerificationKey)] {
        let set: JSONObject
        do {
            set = try JSONObject(parsing: ByteBuffer(string: json))
        } catch {
            throw KeyError(error.description)
        }
        guard let keys = set["keys"]?.elements else { throw KeyError("it has no 'keys' array") }
        var usable: [(id: String, key: VerificationKey)] = []
        for (index, value) in keys.enumerated() {
            guard let jwk = try? value.object() else { throw KeyError("key \(index + 1) is not a JSON object") }
            guard let key = try Self.signingKey(jwk, number: index + 1) else { continue }
            guard let id = try jwk.keyString("kid", number: index + 1) else {
                throw KeyError("key \(index + 1) has no 'kid', so no token could choose it")
            }
            usable.append((id, key))
        }
        guard !usable.isEmpty else { throw KeyError("it holds no key that verifies signatures (RS…, PS…, ES… or EdDSA)") }
        return usable
    }

    /// The key one JWK describes, or nil when it is not one for checking signatures.
    private static func signingKey(_ jwk: JSONObject, number: Int) throws(KeyError) -> VerificationKey? {
        if let use = try jwk.keyString("use", number: number), use != "sig" { return nil }
        let named = try jwk.keyString("alg", number: number)
        guard let type = try jwk.keyString("kty", number: number) else { throw KeyError("key \(number) has no 'kty'") }
        switch type {
        case "RSA":
            let rsaAlgorithms: [JWSAlgorithm] = [.rs256, .rs384, .rs512, .ps256, .ps384, .ps512]
            guard let algorithm = named.map({ JWSAlgorithm(rawValue: $0) }) ?? .rs256, rsaAlgorithms.contains(algorithm) else { return nil }
            let n = try jwk.keyBytes("n", number: number)
            let e = try jwk.keyBytes("e", number: number)
            return Self.rsa(try Self.attempt(number) { try _RSA.Signing.PublicKey(n: n, e: e) }, for: algorithm)
        case "EC":
            let curve = try jwk.keyString("crv", number: number)
            guard curve != nil || named != nil else { throw KeyError("key \(number) names neither its curve ('crv') nor its 'alg'") }
            // The curve `crv` names, if `alg` agrees with it; without `crv`, the one `alg` names.
            let curves: [(name: String, algorithm: JWSAlgorithm)] = [("P-256", .es256), ("P-384", .es384), ("P-521", .es512)]
            let agreeing = curves.first { entry in
                (curve ?? entry.name) == entry.name && (named ?? entry.algorithm.rawValue) == entry.algorithm.rawValue
            }
            guard let algorithm = agreeing?.algorithm else { return nil }
            let point = [0x04] + (try jwk.keyBytes("x", number: number)) + (try jwk.keyBytes("y", number: number))
            return try Self.attempt(number) { () throws -> VerificationKey in
                switch algorithm {
                case .es384: Self.es384(try P384.Signing.PublicKey(x963Representation: point))
                case .es512: Self.es512(try P521.Signing.PublicKey(x963Representation: point))
                default: Self.es256(try P256.Signing.PublicKey(x963Representation: point))
                }
            }
        case "OKP":
            guard try jwk.keyString("crv", number: number) == "Ed25519", named == nil || named == JWSAlgorithm.edDSA.rawValue else { return nil }
            let x = try jwk.keyBytes("x", number: number)
            return Self.edDSA(try Self.attempt(number) { try Curve25519.Signing.PublicKey(rawRepresentation: x) })
        default:
            return nil
        }
    }

    /// Makes the key with Crypto, whose errors say little, and says which key failed.
    private static func attempt<Key>(_ number: Int, _ make: () throws -> Key) throws(KeyError) -> Key {
        do {
            return try make()
        } catch {
            throw KeyError("key \(number) is not a valid public key: \(error)")
        }
    }
}

extension JSONObject {
    /// A string member of a JWK; nil when it is absent or null.
    fileprivate func keyString(_ name: String, number: Int) throws(KeyError) -> String? {
        guard let value = self[name], !value.isNull else { return nil }
        guard let string = value.string else { throw KeyError("key \(number): '\(name)' is not a string") }
        return string
    }

    /// A base64url member of a JWK: a key's numbers. Trailing `=` is forgiven here, in a file the
    /// operator wrote, though never in a token.
    fileprivate func keyBytes(_ name: String, number: Int) throws(KeyError) -> [UInt8] {
        guard let text = try self.keyString(name, number: number) else { throw KeyError("key \(number) has no '\(name)'") }
        var unpadded = Substring(text)
        while unpadded.last == "=" {
            unpadded.removeLast()
        }
        guard let bytes = Base64URL.decode(unpadded.utf8) else {
            throw KeyError("key \(number): '\(name)' is not base64url")
        }
        return bytes
    }
}
