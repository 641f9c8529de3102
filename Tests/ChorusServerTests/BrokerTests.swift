import ChorusCore
import ChorusTestSupport
import NIOCore
import NIOEmbedded
import Testing

@testable import ChorusServer

/// The memory broker is the direct path: every publish path reaches the shards through it, in
/// order, to topic and user targets, and a batch stays one batch.
@Suite struct BrokerTests {
    /// A connection that keeps what the fan-out writes to it.
    final class Recorder: HubConnection {
        let info: ConnectionInfo
        let transport = TransportKind.webSocket
        var subscriptions = SubscriptionSet()
        let access: TopicAccess? = nil
        var filteredPatterns: Set<TopicPattern> = []
        var lastDeliveredSequence: UInt64 = 0
        var flushPending = false
        var received: [OutboundMessage] = []
        /// Frames other than messages (presence diffs), as written.
        var frames: [String] = []
        /// Messages (their ids) and frames in the order written.
        var written: [String] = []
        /// How many times what was written went out (a real connection's system calls).
        var sends = 0
        private var unsent = 0
        /// A closed connection writes nothing, as a real one whose channel has closed.
        var closed = false

        init(_ info: ConnectionInfo) {
            self.info = info
        }

        func enqueue(_ bytes: ByteBuffer, of message: OutboundMessage, flush: Bool) -> Bool {
            guard !self.closed else { return false }
            self.received.append(message)
            self.written.append(message.envelope.messageID)
            self.unsent += 1
            if flush { self.flush() }
            return true
        }

        func enqueue(frame: ByteBuffer, flush: Bool) -> Bool {
            guard !self.closed else { return false }
            self.frames.append(String(buffer: frame))
            self.written.append(String(buffer: frame))
            self.unsent += 1
            if flush { self.flush() }
            return true
        }

        func flush() {
            guard self.unsent > 0 else { return }
            self.sends += 1
            self.unsent = 0
        }
        func sweep(now: NIODeadline) {}
        func disconnect(code: CloseCode, reason: ReasonCode, message: String, reconnect: Bool) {}
    }

    struct Setup {
        let loop = EmbeddedEventLoop()
        let hub: Hub
        let broker: RecordingBroker
        let ann: Recorder
        let bob: Recorder

        init() throws {
            let configuration = HubConfiguration()
            var recording: RecordingBroker?
            self.hub = try Hub(configuration: configuration, eventLoopGroup: self.loop, authenticator: Authenticator(configuration: configuration)) { local in
                let broker = RecordingBroker(passingTo: MemoryBroker(local: local))
                recording = broker
                return broker
            }
            self.broker = recording!
            let shard = self.hub.shard(for: self.loop)
            self.ann = Recorder(self.hub.makeConnectionInfo(transport: .webSocket, user: "ann", remoteAddress: nil))
            self.bob = Recorder(self.hub.makeConnectionInfo(transport: .webSocket, user: "bob", remoteAddress: nil))
            for connection in [self.ann, self.bob] {
                shard.register(connection)
                _ = shard.subscribe(connection, to: try TopicPattern("chat:*"), filtered: false)
            }
        }

        func envelope(_ topic: String, _ id: String, offset: UInt64) -> MessageEnvelope {
            MessageEnvelope(topic: topic, event: "message", data: ByteBuffer(string: "1"), messageID: id, offset: offset, epoch: "e", timestamp: 1)
        }
    }

    @Test func publishesAndUserSendsArriveInOrder() throws {
        let setup = try Setup()
        let first = try setup.hub.publish(topic: Topic("chat:a"), event: nil, data: ByteBuffer(string: "1"))
        let direct = try setup.hub.send(toUser: "ann", event: nil, data: ByteBuffer(string: "2"))
        // The publisher's own connection is left out when it asks.
        let second = try setup.hub.publish(topic: Topic("chat:b"), event: nil, data: ByteBuffer(string: "3"), excludingConnection: setup.bob.info.id)
        try setup.loop.run()

        #expect(setup.ann.received.map(\.envelope.messageID) == [first, direct.messageID, second])
        #expect(setup.ann.received.map(\.envelope.topic) == ["chat:a", "direct", "chat:b"])
        #expect(setup.bob.received.map(\.envelope.messageID) == [first])
        #expect(setup.broker.calls.map { $0.map(\.envelope.messageID) } == [[first], [direct.messageID], [second]])
        guard case .user("ann") = setup.broker.calls[1][0].target else {
            Issue.record("a user send is a broker message to the user")
            return
        }
    }

    @Test func aBatchReachesTheShardsAsOneBatchInOrder() throws {
        let setup = try Setup()
        let batch = (1...3).map { offset in
            BrokerMessage(envelope: setup.envelope("chat:a", "m\(offset)", offset: offset), target: .topic(try! Topic("chat:a")), storeSequence: 10 + offset)
        }
        setup.hub.broker.publish(contentsOf: batch)
        // Encoded on an event loop, not on the caller's thread.
        #expect(setup.ann.received.isEmpty)
        try setup.loop.run()

        #expect(setup.ann.received.map(\.envelope.messageID) == ["m1", "m2", "m3"])
        #expect(setup.ann.received.map(\.storeSequence) == [11, 12, 13])
        #expect(setup.ann.received.map(\.envelope.offset) == [1, 2, 3])
        #expect(setup.broker.calls.map(\.count) == [3])
    }
}
