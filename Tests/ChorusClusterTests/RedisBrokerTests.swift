import ChorusCluster
import ChorusCore
import ChorusRedis
import ChorusTestSupport
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import Testing

/// Records what a broker delivers to its node, and lets a test wait for it.
final class RecordingDelivery: BrokerDelivery {
    private let received = Mutex<[BrokerMessage]>([])

    func deliver(_ message: BrokerMessage) {
        self.received.withLock { $0.append(message) }
    }

    func deliver(contentsOf messages: [BrokerMessage]) {
        self.received.withLock { $0 += messages }
    }

    var messages: [BrokerMessage] {
        self.received.withLock { $0 }
    }

    /// Waits (at most 10 s) until `count` messages arrived; returns them all.
    func wait(for count: Int) async throws -> [BrokerMessage] {
        for _ in 0..<1000 where self.messages.count < count {
            try await Task.sleep(for: .milliseconds(10))
        }
        return self.messages
    }
}

/// Two nodes' ``RedisBroker``s on one real Redis.
@Suite(.timeLimit(.minutes(1))) struct RedisBrokerTests {
    final class Nodes: Sendable {
        let server: RedisTestServer
        let client: RedisClient
        let deliveries = [RecordingDelivery(), RecordingDelivery()]
        let brokers: [RedisBroker]

        init() throws {
            self.server = try RedisTestServer()
            let configuration = try RedisConfiguration(url: self.server.url)
            let client = RedisClient(configuration: configuration)
            self.client = client
            let deliveries = self.deliveries
            self.brokers = ["node-a", "node-b"].indices.map { index in
                RedisBroker(
                    node: ["node-a", "node-b"][index], client: client, configuration: configuration, local: deliveries[index],
                    eventLoopGroup: MultiThreadedEventLoopGroup.singleton
                )
            }
        }

        /// Runs the client and both brokers while `body` runs.
        func run(_ body: () async throws -> Void) async throws {
            let client = self.client, brokers = self.brokers
            try await self.server.run(
                [{ try await client.run() }] + brokers.map { broker in { @Sendable in try await broker.run() } },
                connected: { client.isConnected && brokers.allSatisfy(\.isConnected) }, body
            )
        }

        func subscribe(_ node: Int, _ interest: BrokerInterest) async throws {
            try await self.brokers[node].subscribe(to: interest, on: MultiThreadedEventLoopGroup.singleton.next()).get()
        }
    }

    static func message(_ topic: String, _ index: Int, excluding connection: UInt64? = nil) throws -> BrokerMessage {
        BrokerMessage(
            envelope: MessageEnvelope(topic: topic, event: "message", data: ByteBuffer(string: String(index)), messageID: "m-\(index)", timestamp: 1),
            target: .topic(try Topic(topic)),
            excludedConnection: connection
        )
    }

    static func data(_ messages: [BrokerMessage]) -> [Int] {
        messages.compactMap { Int(String(buffer: $0.envelope.data)) }
    }

    @Test func aNodeGetsWhatItIsSubscribedToInOrderOnceEvenWhenAPatternCoversItToo() async throws {
        let nodes = try Nodes()
        try await nodes.run {
            try await nodes.subscribe(1, .topic("chat:room"))
            try await nodes.subscribe(1, .namespace("chat"))
            try await nodes.subscribe(1, .everything)
            for index in 1...30 {
                nodes.brokers[0].publish(try Self.message(index % 3 == 0 ? "other:x" : "chat:room", index))
            }
            nodes.brokers[0].publish(contentsOf: try (31...40).map { try Self.message("chat.lobby", $0) })
            #expect(Self.data(try await nodes.deliveries[1].wait(for: 40)) == Array(1...40))
            // Node A subscribed to nothing: Redis brought it nothing, its own publishes included.
            #expect(nodes.deliveries[0].messages.isEmpty)
        }
    }

    @Test func theOriginKeepsItsExclusionAndOtherNodesDropIt() async throws {
        let nodes = try Nodes()
        try await nodes.run {
            try await nodes.subscribe(0, .topic("chat:room"))
            try await nodes.subscribe(1, .topic("chat:room"))
            nodes.brokers[0].publish(try Self.message("chat:room", 1, excluding: 7))
            #expect(try await nodes.deliveries[0].wait(for: 1).map(\.excludedConnection) == [7])
            #expect(try await nodes.deliveries[1].wait(for: 1).map(\.excludedConnection) == [nil])
        }
    }

    @Test func usersMessagesAndDisconnectsReachTheUsersNodeInOrder() async throws {
        let nodes = try Nodes()
        try await nodes.run {
            try await nodes.subscribe(1, .user("ann"))
            let envelope = MessageEnvelope(topic: "direct", event: "message", data: ByteBuffer(string: "1"), messageID: "d-1", timestamp: 1)
            nodes.brokers[0].publish(BrokerMessage(envelope: envelope, target: .user("bob")))
            nodes.brokers[0].publish(BrokerMessage(envelope: envelope, target: .user("ann")))
            var kick = envelope
            kick.messageID = "d-2"
            nodes.brokers[0].publish(BrokerMessage(envelope: kick, target: .disconnect(user: "ann", reason: "bye", reconnect: true)))
            let received = try await nodes.deliveries[1].wait(for: 2)
            #expect(received.map(\.envelope.messageID) == ["d-1", "d-2"])
            guard case .disconnect("ann", "bye", true) = received.last?.target else { Issue.record("no disconnect"); return }
        }
    }

    @Test func anUnsubscribedInterestLeavesRedis() async throws {
        let nodes = try Nodes()
        try await nodes.run {
            try await nodes.subscribe(1, .topic("chat:room"))
            try await nodes.subscribe(1, .namespace("demo"))
            #expect(try await nodes.client.send(RESPCommand("PUBSUB", ["NUMPAT"])).int == 1)
            nodes.brokers[1].unsubscribe(from: .topic("chat:room"))
            nodes.brokers[1].unsubscribe(from: .namespace("demo"))
            // Confirmed by a later subscribe on the same connection.
            try await nodes.subscribe(1, .user("ann"))
            let counts = try await nodes.client.send(RESPCommand("PUBSUB", ["NUMSUB", "chorus:t:chat:room", "chorus:u:ann"]))
            #expect(counts.array?.compactMap(\.int) == [0, 1])
            #expect(try await nodes.client.send(RESPCommand("PUBSUB", ["NUMPAT"])).int == 0)
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct RedisReadinessTests {
    @Test func readyWhileRedisAnswersAndNotWhileItIsDown() async throws {
        let nodes = try RedisBrokerTests.Nodes()
        try await nodes.run {
            let check = RedisReadiness(client: nodes.client, broker: nodes.brokers[0])
            #expect(check.name == "redis")
            try await check.checkReady()
            nodes.server.kill()
            while nodes.client.isConnected { try await Task.sleep(for: .milliseconds(10)) }
            await #expect { try await check.checkReady() } throws: { "\($0)".contains("unreachable") }
            try nodes.server.start()
            while !(nodes.client.isConnected && nodes.brokers[0].isConnected) { try await Task.sleep(for: .milliseconds(20)) }
            try await check.checkReady()
        }
    }
}
