import NIOCore
import Testing

@testable import ChorusCore

@Suite struct ClientFrameDecoderTests {
    let decoder = ClientFrameDecoder()

    func decode(_ text: String) -> ClientFrameDecoder.Decoded {
        self.decoder.decode(ByteBuffer(string: text))
    }

    func failure(_ text: String) -> ProtocolError? {
        if case .failure(let error) = self.decode(text).result { return error }
        return nil
    }

    @Test func publishKeepsDataBytesAndEchoesID() throws {
        let decoded = self.decode(#"{"type":"publish","id":7,"topic":"chat:general","event":"msg","data":{"text": "hi"},"idempotency_key":"k1"}"#)
        #expect(decoded.id?.int64 == 7)
        guard case .success(.publish(let publish)) = decoded.result else {
            Issue.record("expected publish, got \(decoded.result)")
            return
        }
        #expect(publish.topic.name == "chat:general")
        #expect(publish.event == "msg")
        #expect(String(buffer: publish.data.bytes) == #"{"text": "hi"}"#)
        #expect(publish.idempotencyKey == "k1")
    }

    /// The hub remembers every key for its window, so a key's size is bounded.
    @Test func idempotencyKeysAreBounded() {
        let longest = String(repeating: "k", count: PublishFrame.maxIdempotencyKeyLength)
        guard case .success(.publish(let publish)) = self.decode(#"{"type":"publish","topic":"a","data":1,"idempotency_key":"\#(longest)"}"#).result else {
            Issue.record("expected publish")
            return
        }
        #expect(publish.idempotencyKey == longest)
        for key in ["", longest + "k"] {
            let error = self.failure(#"{"type":"publish","topic":"a","data":1,"idempotency_key":"\#(key)"}"#)
            #expect(error?.code == .badRequest)
            #expect(error?.message == "field 'idempotency_key' must be 1 to 128 bytes long")
        }
    }

    @Test func messageIsAnAliasOfPublish() {
        guard case .success(.publish(let publish)) = self.decode(#"{"type":"message","topic":"a","data":1}"#).result else {
            Issue.record("expected publish")
            return
        }
        #expect(publish.event == nil)
        #expect(String(buffer: publish.data.bytes) == "1")
    }

    @Test func subscribeTakesPatternsAndSince() {
        guard case .success(.subscribe(let pattern, let since)) = self.decode(#"{"type":"subscribe","topic":"a.*","since":{"offset":5,"epoch":"e1"}}"#).result else {
            Issue.record("expected subscribe")
            return
        }
        #expect(pattern.text == "a.*")
        #expect(since == .offset(5, epoch: "e1"))
        guard case .success(.subscribe(_, let byTime)) = self.decode(#"{"type":"subscribe","topic":"a.**","since":{"ts":1700000000000}}"#).result else {
            Issue.record("expected subscribe")
            return
        }
        #expect(byTime == .timestamp(milliseconds: 1_700_000_000_000))
    }

    @Test func everyKnownTypeDecodes() {
        let frames: [(String, (ClientFrame) -> Bool)] = [
            (#"{"type":"auth","token":"t"}"#, { if case .auth("t") = $0 { true } else { false } }),
            (#"{"type":"unsubscribe","topic":"a"}"#, { if case .unsubscribe(let p) = $0 { p.text == "a" } else { false } }),
            (#"{"type":"ping","timestamp":12}"#, { if case .ping(let ts) = $0 { ts?.int64 == 12 } else { false } }),
            (#"{"type":"ping"}"#, { if case .ping(nil) = $0 { true } else { false } }),
            (#"{"type":"presence","topic":"room"}"#, { if case .presence(let t, .whole) = $0 { t.name == "room" } else { false } }),
            (#"{"type":"presence_update","topic":"room","meta":{"s":1}}"#, { if case .presenceUpdate(let t, _) = $0 { t.name == "room" } else { false } }),
            (#"{"type":"direct","to":"bob","event":"offer","data":{}}"#, { if case .direct("bob", "offer", _) = $0 { true } else { false } }),
            (#"{"type":"chat:send","text":"x"}"#, { if case .custom("chat:send", let fields) = $0 { fields["text"]?.string == "x" } else { false } }),
        ]
        for (text, check) in frames {
            guard case .success(let frame) = self.decode(text).result else {
                Issue.record("\(text) did not decode")
                continue
            }
            #expect(check(frame), "\(text) decoded as \(frame)")
        }
    }

    @Test(arguments: [
        (#"{bad"#, "invalid JSON"),
        (#"[1,2]"#, "expected a JSON object"),
        (#"{"topic":"a"}"#, "missing field 'type'"),
        (#"{"type":5}"#, "field 'type' must be a string"),
        (#"{"type":"subscribe"}"#, "missing field 'topic'"),
        (#"{"type":"subscribe","topic":"a..b"}"#, "invalid topic"),
        (#"{"type":"publish","topic":"a.*","data":1}"#, "cannot publish to a pattern"),
        (#"{"type":"publish","topic":"a"}"#, "missing field 'data'"),
        (#"{"type":"publish","topic":"a","data":1,"event":3}"#, "field 'event' must be a string"),
        (#"{"type":"subscribe","topic":"a","since":{"offset":-1}}"#, "'since.offset' must be a non-negative integer"),
        (#"{"type":"subscribe","topic":"a","since":3}"#, "field 'since' must be an object"),
        (#"{"type":"presence_update","topic":"a","meta":3}"#, "field 'meta' must be an object"),
        (#"{"type":"ping","id":{"a":1}}"#, "field 'id' must be a number or a string"),
    ])
    func badFramesAreBadRequests(text: String, message: String) {
        let error = self.failure(text)
        #expect(error?.code == .badRequest)
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "no error") should mention \(message)")
    }

    @Test func idIsKeptWhenTheRestIsBad() {
        let decoded = self.decode(#"{"type":"subscribe","id":"s1","topic":"a..b"}"#)
        #expect(decoded.id?.string == "s1")
        guard case .failure = decoded.result else {
            Issue.record("expected failure")
            return
        }
    }

    @Test func deepNestingIsRejectedNotCrashed() {
        let deep = #"{"type":"publish","topic":"a","data":"# + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "}"
        #expect(self.failure(deep)?.code == .badRequest)
    }
}
