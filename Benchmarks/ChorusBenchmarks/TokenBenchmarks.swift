import Benchmark
import ChorusJWT
import Crypto
import CryptoExtras
import Foundation

/// What a connection presenting a token the hub has not seen costs, before the claims: the
/// header read, the key chosen, the signature checked and the claims parsed (`TokenVerifier`).
func tokenBenchmarks() {
    let secret = String(repeating: "x", count: 40)
    let claims = #"{"sub":"bench-1","exp":4102444800,"subscribe":["game.*"]}"#
    let rsa = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    let p256 = P256.Signing.PrivateKey()

    func token(_ alg: String, _ sign: (Data) throws -> Data) -> String {
        let input = Base64URL.encode(#"{"alg":"\#(alg)","typ":"JWT"}"#.utf8) + "." + Base64URL.encode(claims.utf8)
        return input + "." + Base64URL.encode(try! sign(Data(input.utf8)))
    }
    let cases: [(String, TokenVerifier, String)] = [
        ("HS256", TokenVerifier(defaultKey: .hs256(secret: secret), keySet: [])!,
         token("HS256") { Data(HMAC<SHA256>.authenticationCode(for: $0, using: SymmetricKey(data: Data(secret.utf8)))) }),
        ("RS256", TokenVerifier(defaultKey: try! VerificationKey(pem: rsa.publicKey.pemRepresentation), keySet: [])!,
         token("RS256") { try rsa.signature(for: SHA256.hash(data: $0), padding: .insecurePKCS1v1_5).rawRepresentation }),
        ("ES256", TokenVerifier(defaultKey: try! VerificationKey(pem: p256.publicKey.pemRepresentation), keySet: [])!,
         token("ES256") { try p256.signature(for: $0).rawRepresentation }),
    ]
    for (name, verifier, token) in cases {
        precondition((try? verifier.verify(token)) != nil, "the \(name) benchmark token does not verify")
        Benchmark("TokenVerifier verify \(name) (\(token.utf8.count) B)", configuration: .perOperation) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try? verifier.verify(token))
            }
        }
    }

    let signer = HS256TokenSigner(secret: secret)
    Benchmark("HS256TokenSigner mint (chorus bench churn --token-secret, per connection)", configuration: .perOperation) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(signer.token(subject: "bench-123456", expiresAt: 4_102_444_800))
        }
    }
}
