import ChorusCluster
import ChorusCore
import ChorusRedis
import ChorusTestSupport
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

@testable import ChorusServer

/// Three hubs in one process on one real Redis, each with a ``RedisBroker``: what
/// ``ClusterSeamsTests`` shows on the loopback model, over the network.
@Suite(.timeLimit(.minutes(1))) struct RedisClusterTests {
    final class Cluster: Sendable {
        let server: RedisTestServer
        let client: RedisClient
        let brokers: [RedisBroker]
        let loops = [NIOAsyncTestingEventLoop(), NIOAsyncTestingEventLoop(), NIOAsyncTestingEventLoop()]
        let hubs: [Hub]

        init(deliverToPublisher: Bool = true) throws {
            let server = try RedisTestServer()
            let configuration = try RedisConfiguration(url: server.url)
            let client = RedisClient(configuration: configuration)
            var hubConfiguration = HubConfiguration()
            hubConfiguration.jwtSecret = AuthenticatorTests.secret
            hubConfiguration.allowAnonymous = true
            hubConfiguration.deliverToPublisher = deliverToPublisher
            hubConfiguration.namespaces = ["demo": NamespaceOptions(historySize: 1000)]
            let made = Mutex<[RedisBroker]>([])
            let loops = self.loops
            self.hubs = try loops.indices.map { node in
                try Hub(
                    configuration: hubConfiguration, eventLoopGroup: loops[node], authenticator: Authenticator(configuration: hubConfiguration),
                    historyStore: RedisHistoryStore(node: "node-\(node)", client: client),
                    broker: { local in
                        let broker = RedisBroker(
                            node: "node-\(node)", client: client, configuration: configuration, local: local, eventLoopGroup: MultiThreadedEventLoopGroup.singleton
                        )
                        made.withLock { $0.append(broker) }
                        return broker
                    }
                )
            }
            self.brokers = made.withLock { $0 }
            self.server = server
            self.client = client
        }

        /// Runs the Redis connections while `body` runs.
        func run(_ body: () async throws -> Void) async throws {
            let client = self.client, brokers = self.brokers
            try await self.server.run(
                [{ try await client.run() }] + brokers.map { broker in { @Sendable in try await broker.run() } },
                connected: { client.isConnected && brokers.allSatisfy(\.isConnected) }, body
            )
        }

        /// Waits until Redis answers `command` with the integer `value` (the last element of an array reply).
        func waitUntil(_ command: RESPCommand, is value: Int) async throws {
            while true {
                let reply = try await self.client.send(command)
                if (reply.array?.last ?? reply).int == value { return }
                try await Task.sleep(for: .milliseconds(5))
            }
        }

        /// A WebSocket client of hub `node`, as user `user` when given.
        func connect(to node: Int, user: String? = nil) async throws -> HistoryRecoveryTests.Client {
            let loop = self.loops[node]
            let channel = NIOAsyncTestingChannel(loop: loop)
            try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1))
            let hub = self.hubs[node]
            let uri = user.map { "/ws?token=" + AuthenticatorTests.token(#"{"sub":"\#($0)"}"#) } ?? "/ws"
            let request = ConnectRequest(head: HTTPRequestHead(version: .http1_1, method: .GET, uri: uri), remoteAddress: "127.0.0.1")
            try await loop.submit {
                try channel.pipeline.syncOperations.addHandler(WebSocketConnection(hub: hub, shard: hub.shard(for: loop), request: request, version: .v1))
            }.get()
            return HistoryRecoveryTests.Client(channel: channel)
        }
    }

    @Test func aPublishOnOneNodeReachesTheOthersInOrderExactlyOnce() async throws {
        let nodes = try Cluster()
        try await nodes.run {
            var onB = try await nodes.connect(to: 1)
            var onC = try await nodes.connect(to: 2)
            try await onB.send(#"{"type":"subscribe","topic":"chat:room","id":1}"#)
            try await onB.send(#"{"type":"subscribe","topic":"news:a","id":2}"#)
            // Exactly and by a pattern on one node: one message frame per subscription, as on one node.
            try await onC.send(#"{"type":"subscribe","topic":"chat:room","id":1}"#)
            try await onC.send(#"{"type":"subscribe","topic":"news:*","id":2}"#)
            _ = try await onB.texts(2)
            _ = try await onC.texts(2)
            // An ephemeral subscribe is answered before Redis has it: wait until it does.
            try await nodes.waitUntil(RESPCommand("PUBSUB", ["NUMSUB", "chorus:t:chat:room"]), is: 2)
            try await nodes.waitUntil(RESPCommand("PUBSUB", ["NUMPAT"]), is: 1)
            for index in 1...40 {
                _ = try await nodes.hubs[0].publishAndWait(topic: Topic(index % 2 == 0 ? "chat:room" : "news:a"), event: nil, data: ByteBuffer(string: String(index)))
            }
            #expect(ClusterSeamsTests.data(try await onB.texts(40)) == Array(1...40))
            #expect(ClusterSeamsTests.data(try await onC.texts(40)) == Array(1...40))
            // Node A has no subscriber: it subscribed to nothing in Redis.
            let channels = try await nodes.client.send(RESPCommand("PUBSUB", ["NUMSUB", "chorus:t:chat:room"]))
            #expect(channels.array?.last?.int == 2)
            #expect(try await nodes.client.send(RESPCommand("PUBSUB", ["NUMPAT"])).int == 1)
        }
    }

    @Test func aSubscribeWithSinceRecoversWhatOtherNodesPublishedWhilePublishesRace() async throws {
        let nodes = try Cluster()
        try await nodes.run {
            var epoch = ""
            for index in 1...20 {
                epoch = try await nodes.hubs[0].publishAndWait(topic: Topic("demo:a"), event: nil, data: ByteBuffer(string: String(index))).epoch ?? ""
            }
            var client = try await nodes.connect(to: 1)
            let racing = Task {
                for index in 21...80 {
                    _ = try await nodes.hubs[index % 2 == 0 ? 0 : 2].publishAndWait(topic: Topic("demo:a"), event: nil, data: ByteBuffer(string: String(index)))
                }
            }
            try await client.send(#"{"type":"subscribe","topic":"demo:a","id":1,"since":{"offset":5,"epoch":"\#(epoch)"}}"#)
            let answer = try await client.texts(1)[0]
            #expect(answer.contains(#""type":"subscribed""#) && answer.hasSuffix(#""recovered":true}"#))
            try await racing.value
            // Replayed and live, from right after `since` to the last publish: no gap, no duplicate.
            #expect(ClusterSeamsTests.data(try await client.texts(75)) == Array(6...80))
            // A wrong epoch: told, never a silent gap.
            var late = try await nodes.connect(to: 2)
            try await late.send(#"{"type":"subscribe","topic":"demo:a","id":1,"since":{"offset":5,"epoch":"gone"}}"#)
            #expect(try await late.texts(1)[0].hasSuffix(#""recovered":false}"#))
        }
    }

    @Test func aDirectMessageAndADisconnectReachTheUserOnAnotherNode() async throws {
        let nodes = try Cluster()
        try await nodes.run {
            var cal = try await nodes.connect(to: 2, user: "cal")
            #expect(try await cal.texts(1)[0].contains("cal"))
            try await nodes.waitUntil(RESPCommand("PUBSUB", ["NUMSUB", "chorus:u:cal"]), is: 1)
            let receipt = try nodes.hubs[0].send(toUser: "cal", event: nil, data: ByteBuffer(string: "7"))
            let direct = try await cal.texts(1)[0]
            #expect(direct.contains(#""topic":"direct""#) && direct.contains(receipt.messageID))
            nodes.hubs[1].disconnect(user: "cal", reason: "bye", reconnect: false)
            let disconnect = try await cal.texts(1)[0]
            #expect(disconnect.contains(#""type":"disconnect""#) && disconnect.contains("bye"))
        }
    }

    @Test func aPublisherLeftOutIsLeftOutOnItsOwnNodeOnly() async throws {
        let nodes = try Cluster(deliverToPublisher: false)
        try await nodes.run {
            // The first connection of each node: the same connection number on both.
            var ann = try await nodes.connect(to: 0)
            var bob = try await nodes.connect(to: 1)
            for client in [ann, bob] {
                try await client.send(#"{"type":"subscribe","topic":"chat:room","id":1}"#)
            }
            _ = try await ann.texts(1)
            _ = try await bob.texts(1)
            try await nodes.waitUntil(RESPCommand("PUBSUB", ["NUMSUB", "chorus:t:chat:room"]), is: 2)
            try await ann.send(#"{"type":"publish","topic":"chat:room","data":1,"id":2}"#)
            #expect(ClusterSeamsTests.data(try await bob.texts(1)) == [1])
            try await bob.send(#"{"type":"publish","topic":"chat:room","data":2,"id":2}"#)
            // Ann's next frames: her ack, then Bob's message; never her own.
            let frames = try await ann.texts(2)
            #expect(frames[0].contains(#""type":"ack""#) && ClusterSeamsTests.data(frames) == [2])
            #expect(try await bob.texts(1)[0].contains(#""type":"ack""#))
        }
    }
}
