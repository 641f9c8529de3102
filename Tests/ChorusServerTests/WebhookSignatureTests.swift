import Foundation
import NIOCore
import Testing

@testable import ChorusServer

/// Standard Webhooks signatures against Tests/vectors/standard-webhooks.json, which the PyPI
/// package `standardwebhooks` signed (and Tests/e2e/test_webhook_signatures.py verifies with
/// it): Chorus must sign every case to exactly the same header, and accept each.
@Suite struct WebhookSignatureTests {
    struct Vector: Decodable, CustomTestStringConvertible {
        var name: String
        var secrets: [String]
        var id: String
        var timestamp: Int64
        var body: String
        var signature: String

        var testDescription: String { self.name }
    }

    struct Vectors: Decodable {
        var vectors: [Vector]
    }

    static let vectors: [Vector] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("vectors/standard-webhooks.json")
        return try! JSONDecoder().decode(Vectors.self, from: Data(contentsOf: url)).vectors
    }()

    static let specSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    @Test func theSpecificationVector() throws {
        let headers = WebhookSignature.headers(
            id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
            timestamp: 1_614_265_330,
            body: ByteBuffer(string: #"{"test": 2432232314}"#),
            secrets: [try WebhookSecret(parsing: Self.specSecret)]
        )
        #expect(headers.signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        #expect(headers.fields.map(\.name) == ["webhook-id", "webhook-timestamp", "webhook-signature"])
        #expect(headers.fields.map(\.value) == ["msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="])
    }

    @Test func theVectorsFileIsComplete() {
        #expect(Self.vectors.count >= 9)
        #expect(Self.vectors.contains { $0.secrets.count == 3 })
    }

    @Test(arguments: Self.vectors)
    func signsLikeTheReferenceLibrary(vector: Vector) throws {
        let secrets = try vector.secrets.map { try WebhookSecret(parsing: $0) }
        let headers = WebhookSignature.headers(id: vector.id, timestamp: vector.timestamp, body: ByteBuffer(string: vector.body), secrets: secrets)
        #expect(headers.signature == vector.signature)
        #expect(headers.id == vector.id)
        #expect(headers.timestamp == vector.timestamp)
    }

    @Test(arguments: Self.vectors)
    func verifiesWhatTheReferenceLibrarySigned(vector: Vector) throws {
        for text in vector.secrets {
            try WebhookSignature.verify(
                id: vector.id,
                timestamp: String(vector.timestamp),
                signature: vector.signature,
                body: ByteBuffer(string: vector.body),
                secrets: [try WebhookSecret(parsing: text)],
                now: vector.timestamp + 299
            )
        }
    }

    @Test func refusesWhatDoesNotMatch() throws {
        let secret = try WebhookSecret(parsing: Self.specSecret)
        let other = try WebhookSecret(bytes: [UInt8](repeating: 7, count: 32))
        let signature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        func verify(
            id: String = "msg_p5jXN8AQM9LWM0D4loKWxJek",
            timestamp: String = "1614265330",
            signature given: String? = nil,
            body: String = #"{"test": 2432232314}"#,
            secrets: [WebhookSecret]? = nil,
            now: Int64 = 1_614_265_330
        ) throws(WebhookSignatureError) {
            try WebhookSignature.verify(
                id: id,
                timestamp: timestamp,
                signature: given ?? signature,
                body: ByteBuffer(string: body),
                secrets: secrets ?? [secret],
                now: now
            )
        }
        try verify()
        try verify(secrets: [other, secret])
        try verify(signature: "v2,abc v1,bm90IGl0 " + signature)
        #expect(throws: WebhookSignatureError.noMatchingSignature) { try verify(secrets: [other]) }
        #expect(throws: WebhookSignatureError.noMatchingSignature) { try verify(secrets: []) }
        #expect(throws: WebhookSignatureError.noMatchingSignature) { try verify(id: "msg_other") }
        #expect(throws: WebhookSignatureError.noMatchingSignature) { try verify(body: #"{"test": 2432232315}"#) }
        #expect(throws: WebhookSignatureError.noMatchingSignature) { try verify(signature: "v2," + signature.dropFirst(3)) }
        #expect(throws: WebhookSignatureError.noMatchingSignature) { try verify(signature: "") }
        #expect(throws: WebhookSignatureError.noMatchingSignature) { try verify(signature: "v1,not base64!") }
        #expect(throws: WebhookSignatureError.invalidTimestamp) { try verify(timestamp: "1614265330.5") }
        #expect(throws: WebhookSignatureError.timestampOutsideTolerance) { try verify(now: 1_614_265_330 + 301) }
        #expect(throws: WebhookSignatureError.timestampOutsideTolerance) { try verify(now: 1_614_265_330 - 301) }
        #expect(throws: WebhookSignatureError.timestampOutsideTolerance) { try verify(now: .min) }
        try verify(now: 1_614_265_330 + 300)
    }

    @Test func rotationSignsWithEverySecretInOrder() throws {
        let first = try WebhookSecret(bytes: [UInt8](repeating: 1, count: 32))
        let second = try WebhookSecret(bytes: [UInt8](repeating: 2, count: 24))
        let body = ByteBuffer(string: "{}")
        let both = WebhookSignature.headers(id: "e", timestamp: 5, body: body, secrets: [first, second]).signature
        let one = WebhookSignature.headers(id: "e", timestamp: 5, body: body, secrets: [first]).signature
        let two = WebhookSignature.headers(id: "e", timestamp: 5, body: body, secrets: [second]).signature
        #expect(both == one + " " + two)
        #expect(WebhookSignature.headers(id: "e", timestamp: 5, body: body, secrets: []).signature == "")
    }

    @Test func secretsParseAndPrintAndStayOutOfLogs() throws {
        let secret = try WebhookSecret(parsing: Self.specSecret)
        #expect(secret.bytes.count == 24)
        #expect(secret.encoded == Self.specSecret)
        #expect(try WebhookSecret(parsing: "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") == secret)
        #expect("\(secret)" == "whsec_…")
        let unpadded = try WebhookSecret(parsing: "whsec_" + String(try WebhookSecret(bytes: [UInt8](repeating: 9, count: 32)).encoded.dropFirst(6).dropLast()))
        #expect(unpadded.bytes == [UInt8](repeating: 9, count: 32))
        var generator = SystemRandomNumberGenerator()
        let random = WebhookSecret.random(using: &generator)
        #expect(random.bytes.count == 32)
        #expect(try WebhookSecret(parsing: random.encoded) == random)
    }

    @Test(arguments: [
        ("whsec_", "a webhook secret needs 24 to 64 bytes, not 0"),
        ("whsec_c2hvcnQ=", "a webhook secret needs 24 to 64 bytes, not 5"),
        ("whsec_not base64!", "a webhook secret is 'whsec_' followed by base64"),
        ("whsec_" + String(repeating: "A", count: 88), "a webhook secret needs 24 to 64 bytes, not 66"),
    ])
    func refusesBadSecrets(text: String, reason: String) {
        #expect(throws: WebhookSignatureError.invalidSecret(reason)) { try WebhookSecret(parsing: text) }
    }
}
