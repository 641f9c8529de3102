import NIOCore
import Testing

@testable import ChorusCore

@Suite struct ServerFrameTests {
    func text(_ frame: ServerFrame, id: String? = nil) throws -> String {
        var buffer = ByteBuffer()
        let idJSON = try id.map { try JSONObject(parsing: ByteBuffer(string: "{\"id\":\($0)}"))["id"]! }
        frame.write(into: &buffer, id: idJSON)
        return String(buffer: buffer)
    }

    @Test func repliesHaveTheProtocolShape() throws {
        #expect(try self.text(.ack(messageID: "m1", offset: nil, epoch: nil), id: "7") == #"{"type":"ack","id":7,"message_id":"m1"}"#)
        #expect(try self.text(.ack(messageID: "m1", offset: 3, epoch: "e"), id: #""x""#) == #"{"type":"ack","id":"x","message_id":"m1","offset":3,"epoch":"e"}"#)
        #expect(try self.text(.subscribed(topic: "a.*", offset: nil, epoch: nil, recovered: false)) == #"{"type":"subscribed","topic":"a.*","recovered":false}"#)
        #expect(try self.text(.unsubscribed(topic: "a")) == #"{"type":"unsubscribed","topic":"a"}"#)
        #expect(try self.text(.authSuccess(client: "c1", user: nil, expiresAt: nil)) == #"{"type":"auth_success","client":"c1","user":null}"#)
        #expect(try self.text(.authSuccess(client: "c1", user: "al\"ice", expiresAt: 5)) == #"{"type":"auth_success","client":"c1","user":"al\"ice","expires_at":5}"#)
        #expect(try self.text(.error(ProtocolError(.tooLarge, "big")), id: "1") == #"{"type":"error","id":1,"code":"too_large","message":"big"}"#)
        #expect(try self.text(.disconnect(code: .goingAway, reason: .shutdown, message: "bye", reconnect: true)) == #"{"type":"disconnect","code":1001,"reason":"bye","reconnect":true}"#)
        #expect(try self.text(.custom(type: "typing", fields: ByteBuffer(string: #" { "who" : "bob" } "#))) == #"{"type":"typing","who" : "bob"}"#)
        #expect(try self.text(.custom(type: "typing", fields: ByteBuffer(string: "{ }"))) == #"{"type":"typing"}"#)
    }

    @Test func pongEchoesTheTimestampVerbatim() throws {
        let timestamp = try JSONObject(parsing: ByteBuffer(string: #"{"t":1.5e3}"#))["t"]
        var buffer = ByteBuffer()
        ServerFrame.pong(timestamp: timestamp).write(into: &buffer)
        #expect(String(buffer: buffer) == #"{"type":"pong","timestamp":1.5e3}"#)
    }

    @Test func messageFramesCarryEveryFieldAndParseBack() throws {
        let envelope = MessageEnvelope(
            topic: "chat:general",
            event: "msg",
            data: ByteBuffer(string: #"{"text":"hé\n"}"#),
            messageID: "m-1",
            offset: 42,
            epoch: "ep",
            timestamp: 1_700_000_000_123,
            from: MessageSender(user: "alice", client: "c-9")
        )
        var buffer = ByteBuffer()
        envelope.writeFrame(into: &buffer, sub: "chat.*")
        let object = try JSONObject(parsing: buffer)
        #expect(object["type"]?.string == "message")
        #expect(object["topic"]?.string == "chat:general")
        #expect(object["event"]?.string == "msg")
        #expect(String(buffer: object["data"]!.bytes) == #"{"text":"hé\n"}"#)
        #expect(object["message_id"]?.string == "m-1")
        #expect(object["offset"]?.int64 == 42)
        #expect(object["epoch"]?.string == "ep")
        #expect(object["ts"]?.int64 == 1_700_000_000_123)
        #expect(object["sub"]?.string == "chat.*")
        let from = try object["from"]!.object()
        #expect(from["user"]?.string == "alice")
        #expect(from["client"]?.string == "c-9")

        var plain = ByteBuffer()
        MessageEnvelope(topic: "a", event: "message", data: ByteBuffer(string: "null"), messageID: "m", timestamp: 1).writeFrame(into: &plain)
        #expect(String(buffer: plain) == #"{"type":"message","topic":"a","event":"message","data":null,"message_id":"m","ts":1}"#)
    }

    @Test func everyErrorCodeHasAnHTTPStatus() {
        let statuses = Dictionary(uniqueKeysWithValues: ErrorCode.allCases.map { ($0.rawValue, $0.httpStatus) })
        #expect(statuses == [
            "bad_request": 400, "unauthorized": 401, "forbidden": 403, "not_found": 404,
            "too_large": 413, "rate_limited": 429, "unknown_type": 400, "internal": 500, "unavailable": 503,
            "unsupported_media_type": 415, "transform_failed": 422, "conflict": 409,
        ])
    }
}
