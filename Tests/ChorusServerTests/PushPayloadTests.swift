import ChorusCore
import Foundation
import NIOCore
import Testing

@testable import ChorusServer

@Suite struct PushPayloadTests {
    static func envelope(_ data: String, topic: String = "alerts:news") -> MessageEnvelope {
        MessageEnvelope(topic: topic, event: "alert", data: ByteBuffer(string: data), messageID: "m1", timestamp: 0)
    }

    static func json(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    @Test func aMessageObjectGivesTitleBodyAndURL() throws {
        let payload = PushPayload(message: Self.envelope(#"{"name":"Ann","text":"hi \"there\"","url":"/demo"}"#))
        let object = try Self.json(payload.encoded(limit: 4000))
        #expect(object["title"] as? String == "Ann")
        #expect(object["body"] as? String == #"hi "there""#)
        #expect(object["url"] as? String == "/demo")
        #expect(object["tag"] as? String == "alerts:news")
        #expect(object["message_id"] as? String == "m1")
        #expect((object["data"] as? [String: Any])?["name"] as? String == "Ann")
    }

    @Test func aStringIsTheBodyAndOtherDataLeavesTheTopicAsTitle() throws {
        let text = try Self.json(PushPayload(message: Self.envelope(#""wind \u00e9""#)).encoded(limit: 4000))
        #expect(text["body"] as? String == "wind é")
        #expect(text["title"] as? String == "alerts:news")
        let number = try Self.json(PushPayload(message: Self.envelope("42")).encoded(limit: 4000))
        #expect(number["body"] == nil)
        #expect(number["data"] as? Int == 42)
    }

    @Test func aLargeMessageLosesItsDataThenItsBodyTailToFit() throws {
        let long = String(repeating: "é", count: 3000)
        let payload = PushPayload(message: Self.envelope(#"{"text":"\#(long)","blob":"\#(String(repeating: "x", count: 2000))"}"#))
        let encoded = payload.encoded(limit: 3993)
        #expect(encoded.count <= 3993)
        let object = try Self.json(encoded)
        #expect(object["data"] == nil)
        let body = try #require(object["body"] as? String)
        #expect(body.hasSuffix("…") && body.hasPrefix("éé") && body.count < 3000)

        let small = PushPayload(message: Self.envelope(#"{"text":"short","blob":"\#(String(repeating: "x", count: 5000))"}"#)).encoded(limit: 3993)
        #expect(try Self.json(small)["body"] as? String == "short")
        #expect(try Self.json(small)["data"] == nil)
    }

    @Test func retryAfterReadsSecondsAndHTTPDates() {
        #expect(PushService.retryAfterSeconds("7") == 7)
        #expect(PushService.retryAfterSeconds(" 0 ") == 0)
        #expect(PushService.retryAfterSeconds("-3") == nil)  // RFC 9110: delay-seconds is digits only
        let inTenSeconds = HTTPDate.format(Int(Date().timeIntervalSince1970) + 10)
        #expect((9...11).contains(PushService.retryAfterSeconds(inTenSeconds) ?? -1))
        #expect(PushService.retryAfterSeconds("soon") == nil)
    }

    @Test func subscriptionIDsAreAStableHashOfTheEndpoint() {
        let id = APIRoutes.subscriptionID(endpoint: "https://push.example.net/abc")
        #expect(id == APIRoutes.subscriptionID(endpoint: "https://push.example.net/abc"))
        #expect(id != APIRoutes.subscriptionID(endpoint: "https://push.example.net/abd"))
        #expect(id.utf8.count == 22 && !id.contains("="))
    }
}
