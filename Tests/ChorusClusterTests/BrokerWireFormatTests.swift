import ChorusCluster
import ChorusCore
import NIOCore
import Testing

@Suite struct BrokerWireFormatTests {
    static func message(_ target: BrokerMessage.Target, topic: String, from: MessageSender? = nil) -> BrokerMessage {
        BrokerMessage(
            envelope: MessageEnvelope(topic: topic, event: "said", data: ByteBuffer(string: #"{"a":"x:1:y"}"#), messageID: "m-1", timestamp: 1_700_000_000_123, from: from),
            target: target,
            excludedConnection: 42
        )
    }

    @Test func aTopicMessageRoundTripsWithItsSenderAndKeepsItsExclusionOnItsOrigin() throws {
        let sent = Self.message(.topic(try Topic("chat:room")), topic: "chat:room", from: MessageSender(user: "ann", client: "c 1"))
        let decoded = try #require(BrokerWireFormat.decode(BrokerWireFormat.payload(of: sent, origin: "node-a"), node: "node-a"))
        #expect(decoded.origin == "node-a")
        let envelope = decoded.message.envelope
        #expect(envelope.topic == "chat:room" && envelope.event == "said" && envelope.messageID == "m-1" && envelope.timestamp == 1_700_000_000_123)
        #expect(String(buffer: envelope.data) == #"{"a":"x:1:y"}"#)
        #expect(envelope.from == MessageSender(user: "ann", client: "c 1"))
        #expect(envelope.offset == nil && envelope.epoch == nil && decoded.message.storeSequence == nil)
        #expect(decoded.message.excludedConnection == 42)
        guard case .topic(let topic) = decoded.message.target else { Issue.record("not a topic message"); return }
        #expect(topic.name == "chat:room")
    }

    @Test func anotherNodeDeliversToTheConnectionOfTheSameNumber() throws {
        let sent = Self.message(.topic(try Topic("chat:room")), topic: "chat:room")
        let decoded = try #require(BrokerWireFormat.decode(BrokerWireFormat.payload(of: sent, origin: "node-a"), node: "node-b"))
        #expect(decoded.message.excludedConnection == nil)
        #expect(decoded.message.envelope.from == nil)
    }

    @Test func historyFieldsRoundTrip() throws {
        var sent = Self.message(.topic(try Topic("demo:a")), topic: "demo:a", from: MessageSender(user: nil, client: "anon"))
        sent.envelope.offset = 7
        sent.envelope.epoch = "e1"
        sent.storeSequence = 1_733_000_000_000_001
        let decoded = try #require(BrokerWireFormat.decode(BrokerWireFormat.payload(of: sent, origin: "a"), node: "a"))
        #expect(decoded.message.envelope.offset == 7 && decoded.message.envelope.epoch == "e1")
        #expect(decoded.message.storeSequence == 1_733_000_000_000_001)
        #expect(decoded.message.envelope.from == MessageSender(user: nil, client: "anon"))
    }

    @Test func aScriptCanPrefixTheBodyWithWhatItAssigns() throws {
        let sent = Self.message(.topic(try Topic("demo:a")), topic: "demo:a")
        var payload = ByteBuffer(string: "1:92:e13:105")
        var body = BrokerWireFormat.body(of: sent, origin: "a")
        payload.writeBuffer(&body)
        let decoded = try #require(BrokerWireFormat.decode(payload, node: "a"))
        #expect(decoded.message.envelope.offset == 9 && decoded.message.envelope.epoch == "e1" && decoded.message.storeSequence == 105)
    }

    @Test func userMessagesAndDisconnectsRoundTrip() throws {
        let direct = try #require(BrokerWireFormat.decode(BrokerWireFormat.payload(of: Self.message(.user("bob:x"), topic: "direct"), origin: "a"), node: "b"))
        #expect(direct.message.envelope.topic == "direct")
        guard case .user("bob:x") = direct.message.target else { Issue.record("not a user message"); return }
        let kick = Self.message(.disconnect(user: "bob", reason: "bye now", reconnect: false), topic: "direct")
        let disconnect = try #require(BrokerWireFormat.decode(BrokerWireFormat.payload(of: kick, origin: "a"), node: "b"))
        guard case .disconnect("bob", "bye now", false) = disconnect.message.target else { Issue.record("not a disconnect"); return }
    }

    @Test(arguments: ["", "garbage", "0:0:0:", "1:x", "99:short", "0:0:0:1:a0:1:t8:chat:roo"])
    func bytesThatAreNotAMessageAreRefused(_ text: String) {
        #expect(BrokerWireFormat.decode(ByteBuffer(string: text), node: "a") == nil)
    }

    @Test func aMessageWithBytesAfterItsDataIsRefused() throws {
        var payload = BrokerWireFormat.payload(of: Self.message(.topic(try Topic("chat:room")), topic: "chat:room"), origin: "a")
        payload.writeString("x")
        #expect(BrokerWireFormat.decode(payload, node: "a") == nil)
    }
}

@Suite struct RedisChannelsTests {
    let channels = RedisChannels(prefix: "c")

    @Test func eachInterestHasItsSubscriptions() {
        #expect(self.channels.subscriptions(for: .topic("chat:room")) == [.channel("c:t:chat:room")])
        #expect(self.channels.subscriptions(for: .user("ann")) == [.channel("c:u:ann")])
        #expect(self.channels.subscriptions(for: .namespace("chat")) == [.pattern("c:t:chat[:.]*"), .channel("c:t:chat")])
        #expect(self.channels.subscriptions(for: .everything) == [.pattern("c:t:*")])
        #expect(RedisChannels(prefix: "a*b").subscriptions(for: .namespace("x?")) == [.pattern(#"a\*b:t:x\?[:.]*"#), .channel("a*b:t:x?")])
    }

    @Test func directMessagesAndDisconnectsShareTheUsersChannel() throws {
        #expect(self.channels.channel(for: .user("ann")) == "c:u:ann")
        #expect(self.channels.channel(for: .disconnect(user: "ann", reason: "", reconnect: true)) == "c:u:ann")
        #expect(self.channels.channel(for: .topic(try Topic("chat.room"))) == "c:t:chat.room")
    }

    @Test func aRepeatIsTheSameMessageFromTheSameOriginRightAfterItself() throws {
        var filter = RepeatFilter()
        let first = BrokerWireFormatTests.message(.topic(try Topic("a:b")), topic: "a:b")
        var second = first
        second.envelope.messageID = "m-2"
        let seen = [(first, "a"), (first, "a"), (first, "a"), (first, "b"), (second, "b"), (first, "b")].map { filter.isRepeat($0.0, origin: $0.1) }
        #expect(seen == [false, true, true, false, false, false])
    }
}
