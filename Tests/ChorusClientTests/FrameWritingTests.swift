import ChorusCore
import NIOCore
import Testing

@testable import ChorusClient

/// The client writes frames with ChorusCore's ``ClientFrame``; the hub's own decoder must read
/// each back as the same frame.
@Suite struct FrameWritingTests {
    func roundTrip(_ frame: ClientFrame, id: Int? = 7) -> ClientFrameDecoder.Decoded {
        var buffer = ByteBuffer()
        frame.write(into: &buffer, id: id)
        return ClientFrameDecoder().decode(buffer)
    }

    @Test func publishKeepsDataBytesAndKey() throws {
        let data = try RawJSON.parsing(#"{"text":"h\u00e9llo \"x\"","n":[1,2.5,null]}"#)
        let frame = PublishFrame(topic: try Topic("chat:room1"), event: "msg", data: data, idempotencyKey: "key-1")
        let decoded = self.roundTrip(.publish(frame))
        #expect(decoded.id?.int64 == 7)
        guard case .success(.publish(let back)) = decoded.result else {
            Issue.record("not a publish: \(decoded.result)")
            return
        }
        #expect(back.topic.name == "chat:room1")
        #expect(back.event == "msg")
        #expect(back.data.bytes == data.bytes)
        #expect(back.idempotencyKey == "key-1")
    }

    @Test func subscribeWithEitherKindOfSince() throws {
        let pattern = try TopicPattern("chat:*")
        guard case .success(.subscribe(let p1, let since1)) = self.roundTrip(.subscribe(pattern, since: .offset(42, epoch: "e\"1"))).result,
            case .success(.subscribe(_, let since2)) = self.roundTrip(.subscribe(pattern, since: .timestamp(milliseconds: 1_700_000_000_000))).result,
            case .success(.subscribe(_, let since3)) = self.roundTrip(.subscribe(pattern, since: nil)).result
        else {
            Issue.record("not subscribe frames")
            return
        }
        #expect(p1 == pattern)
        #expect(since1 == .offset(42, epoch: "e\"1"))
        #expect(since2 == .timestamp(milliseconds: 1_700_000_000_000))
        #expect(since3 == nil)
    }

    @Test func directPingAuthAndCustomFrames() throws {
        guard case .success(.direct(let to, let event, let data)) = self.roundTrip(.direct(to: "bob", event: "hi", data: try RawJSON.parsing("[1]"))).result else {
            Issue.record("not direct")
            return
        }
        #expect(to == "bob" && event == "hi" && data.text == "[1]")
        guard case .success(.ping(let timestamp)) = self.roundTrip(.ping(timestamp: try RawJSON.parsing("123"))).result else {
            Issue.record("not ping")
            return
        }
        #expect(timestamp?.int64 == 123)
        guard case .success(.auth(let token)) = self.roundTrip(.auth(token: "a.b.c")).result else {
            Issue.record("not auth")
            return
        }
        #expect(token == "a.b.c")
        let fields = try JSONObject(parsing: ByteBuffer(string: #"{"type":"ignored","id":99,"room":"r1","typing":true}"#))
        let custom = self.roundTrip(.custom(type: "demo:typing", fields: fields))
        #expect(custom.id?.int64 == 7)
        guard case .success(.custom(let type, let back)) = custom.result else {
            Issue.record("not custom")
            return
        }
        #expect(type == "demo:typing")
        #expect(back["room"]?.string == "r1" && back["typing"]?.bool == true && back.count == 4)
    }

    @Test func rawJSONParsingRefusesAnythingButOneValue() {
        #expect(throws: ChorusClientError.self) { try RawJSON.parsing(#"1,"w":2"#) }
        #expect(throws: ChorusClientError.self) { try RawJSON.parsing("{") }
        #expect(throws: ChorusClientError.self) { try RawJSON.parsing("") }
        #expect((try? RawJSON.parsing(" \"x\" "))?.string == "x")
    }

    @Test func messagesDecodeIntoTheSharedEnvelope() throws {
        let text = #"{"type":"message","topic":"chat:a","event":"msg","data":{"n":1},"message_id":"m1","offset":3,"epoch":"e","ts":1700000000000,"from":{"user":"alice","client":"c-1"},"sub":"chat:*"}"#
        guard case .message(let message) = try InboundFrame.decode(ByteBuffer(string: text)) else {
            Issue.record("not a message")
            return
        }
        struct Payload: Decodable, Equatable { var n: Int }
        #expect(message.topic == "chat:a" && message.event == "msg" && message.offset == 3 && message.epoch == "e")
        #expect(message.from == MessageSender(user: "alice", client: "c-1") && message.sub == "chat:*")
        #expect(try message.decode(Payload.self) == Payload(n: 1))
        var rewritten = ByteBuffer()
        message.envelope.writeFrame(into: &rewritten, sub: message.sub)
        #expect(String(buffer: rewritten) == text)
    }

    @Test func badHubFramesAreRefusedNotCrashed() {
        for text in ["", "[]", "{}", #"{"type":"message"}"#, #"{"type":"disconnect","code":-1,"reason":"x"}"#, #"{"type":"ack","offset":-2}"#] {
            #expect(throws: ProtocolError.self) { try InboundFrame.decode(ByteBuffer(string: text)) }
        }
    }

    @Test func endpointsParse() throws {
        let plain = try HubEndpoint("ws://127.0.0.1:8080/ws?topic=a")
        #expect(!plain.tls && plain.host == "127.0.0.1" && plain.port == 8080 && plain.target == "/ws?topic=a")
        let secure = try HubEndpoint("https://hub.example.com")
        #expect(secure.tls && secure.port == 443 && secure.target == "/ws" && secure.httpOrigin == "https://hub.example.com")
        #expect(throws: ChorusClientError.self) { try HubEndpoint("ftp://x/ws") }
        #expect(throws: ChorusClientError.self) { try HubEndpoint("not a url") }
    }
}
