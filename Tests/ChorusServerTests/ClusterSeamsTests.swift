import ChorusCore
import ChorusTestSupport
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOPosix
import Testing

@testable import ChorusServer

/// Three hubs in one process joined by a ``LoopbackCluster`` the way Redis will join nodes:
/// asynchronous deliveries routed by interest only, and a shared history that publishes as it
/// commits. Delays on the cluster race position answers, interest confirmations and deliveries
/// against each other.
@Suite(.timeLimit(.minutes(1))) struct ClusterSeamsTests {
    final class Cluster: Sendable {
        let network = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let cluster: LoopbackCluster
        let loops = [NIOAsyncTestingEventLoop(), NIOAsyncTestingEventLoop(), NIOAsyncTestingEventLoop()]
        let hubs: [Hub]

        init(delays: LoopbackCluster.Delays = LoopbackCluster.Delays()) throws {
            let cluster = LoopbackCluster(loop: self.network.next())
            cluster.delays = delays
            var configuration = HubConfiguration()
            configuration.namespaces = ["demo": NamespaceOptions(historySize: 1000)]
            configuration.jwtSecret = AuthenticatorTests.secret
            configuration.allowAnonymous = true
            let loops = self.loops
            self.hubs = try loops.indices.map { node in
                try Hub(
                    configuration: configuration, eventLoopGroup: loops[node], authenticator: Authenticator(configuration: configuration),
                    historyStore: cluster.historyStore(node: node), broker: cluster.broker(local:)
                )
            }
            self.cluster = cluster
        }

        /// A WebSocket client of hub `node`, as user `user` when given; an SSE stream of `topic`
        /// resuming after `lastEventID` when that is given.
        func connect(to node: Int, user: String? = nil, sse topic: String? = nil, lastEventID: UInt64 = 0) async throws -> HistoryRecoveryTests.Client {
            let loop = self.loops[node]
            let channel = NIOAsyncTestingChannel(loop: loop)
            try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1))
            let hub = self.hubs[node]
            let uri = topic.map { "/sse?topic=\($0)" } ?? user.map { "/ws?token=" + AuthenticatorTests.token(#"{"sub":"\#($0)"}"#) } ?? "/ws"
            let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: ["last-event-id": String(lastEventID)])
            let request = ConnectRequest(head: head, remoteAddress: "127.0.0.1")
            let patterns = try request.topics.map { (try TopicPattern($0), false) }
            try await loop.submit {
                let shard = hub.shard(for: loop)
                let handler: any ChannelHandler =
                    topic == nil
                    ? WebSocketConnection(hub: hub, shard: shard, request: request, version: .v1)
                    : SSEConnection(hub: hub, shard: shard, request: request, identity: .anonymous, access: nil, patterns: patterns, allowOrigin: nil)
                try channel.pipeline.syncOperations.addHandler(handler)
            }.get()
            return HistoryRecoveryTests.Client(channel: channel)
        }

        func publish(_ topic: String, _ data: String, on node: Int) async throws -> Hub.Receipt {
            try await self.hubs[node].publishAndWait(topic: Topic(topic), event: nil, data: ByteBuffer(string: data))
        }

        func close() async throws {
            try await self.network.shutdownGracefully()
        }
    }

    /// The `data` of each message frame (JSON numbers here), in order.
    static func data(_ frames: [String]) -> [Int] {
        frames.compactMap { frame in
            guard frame.contains(#""type":"message""#), let range = frame.firstRange(of: #""data":"#) else { return nil }
            return Int(frame[range.upperBound...].prefix { $0.isNumber })
        }
    }

    @Test func aPublishOnOneNodeReachesTheOthersInOrderExactlyOnce() async throws {
        var delays = LoopbackCluster.Delays()
        delays.delivery = .milliseconds(1)
        let nodes = try Cluster(delays: delays)
        var onB = try await nodes.connect(to: 1)
        var onC = try await nodes.connect(to: 2)
        for client in [onB, onC] {
            try await client.send(#"{"type":"subscribe","topic":"chat:room","id":1}"#)
            try await client.send(#"{"type":"subscribe","topic":"demo:a","id":2}"#)
        }
        _ = try await onB.texts(2)
        _ = try await onC.texts(2)
        for index in 1...40 {
            _ = try await nodes.publish(index % 2 == 0 ? "chat:room" : "demo:a", String(index), on: 0)
        }
        #expect(Self.data(try await onB.texts(40)) == Array(1...40))
        #expect(Self.data(try await onC.texts(40)) == Array(1...40))
        // Node A has no subscriber: the cluster brought it nothing.
        #expect(try await nodes.cluster.interests(of: 0).isEmpty)
        #expect(nodes.cluster.routed(to: 0).isEmpty)
        #expect(nodes.cluster.routed(to: 1).count == 40)
        try await nodes.close()
    }

    /// Milliseconds of delay for deliveries, position answers and interest confirmations.
    @Test(arguments: [(2, 15, 5), (10, 1, 0), (0, 5, 20), (5, 5, 5)])
    func aSubscribeWithSinceRecoversWhatAnotherNodePublishedWhilePublishesRace(delivery: Int64, position: Int64, interest: Int64) async throws {
        var delays = LoopbackCluster.Delays()
        delays.delivery = .milliseconds(delivery)
        delays.position = .milliseconds(position)
        delays.interest = .milliseconds(interest)
        let nodes = try Cluster(delays: delays)
        var epoch = ""
        for index in 1...20 {
            epoch = try await nodes.publish("demo:a", String(index), on: 0).epoch ?? ""
        }
        var client = try await nodes.connect(to: 1)
        let racing = Task {
            for index in 21...80 {
                _ = try await nodes.publish("demo:a", String(index), on: index % 2 == 0 ? 0 : 2)
                // Spread over the subscribe's interest and position round trips.
                try await Task.sleep(for: .milliseconds(1))
            }
        }
        try await client.send(#"{"type":"subscribe","topic":"demo:a","id":1,"since":{"offset":5,"epoch":"\#(epoch)"}}"#)
        let answer = try await client.texts(1)[0]
        #expect(answer.contains(#""type":"subscribed""#) && answer.hasSuffix(#""recovered":true}"#))
        try await racing.value
        // Replayed and live, from right after `since` to the last publish: no gap, no duplicate.
        #expect(Self.data(try await client.texts(75)) == Array(6...80))
        try await nodes.close()
    }

    @Test func anSSEResumeRecoversWhatOtherNodesPublishedWhilePublishesRace() async throws {
        var delays = LoopbackCluster.Delays()
        delays.delivery = .milliseconds(1)
        delays.position = .milliseconds(10)
        delays.interest = .milliseconds(5)
        let nodes = try Cluster(delays: delays)
        for index in 1...5 {
            _ = try await nodes.publish("demo:a", String(index), on: 0)
        }
        let racing = Task {
            for index in 6...40 {
                _ = try await nodes.publish("demo:a", String(index), on: 2)
                try await Task.sleep(for: .milliseconds(1))
            }
        }
        var stream = try await nodes.connect(to: 1, sse: "demo:a", lastEventID: 2)
        try await racing.value
        let text = try await stream.stream(until: "id: 40\n")
        // Chunked: a chunk's size line ends in "\r\n", a single Character.
        let ids = text.split { $0 == "\n" || $0 == "\r\n" }.compactMap { $0.hasPrefix("id: ") ? Int($0.dropFirst(4)) : nil }
        #expect(ids == Array(3...40))
        try await nodes.close()
    }

    @Test func theHistoryAPIOfOneNodeReadsWhatAnotherPublished() async throws {
        var delays = LoopbackCluster.Delays()
        delays.position = .milliseconds(5)
        let nodes = try Cluster(delays: delays)
        for index in 1...6 {
            _ = try await nodes.publish("demo:a", String(index), on: index % 3)
        }
        let after = try await nodes.hubs[1].history(of: Topic("demo:a"), after: 2, limit: 3)
        #expect(after.state?.lastOffset == 6)
        #expect(after.messages.map(\.offset) == [3, 4, 5])
        let newest = try await nodes.hubs[2].history(of: Topic("demo:a"), before: nil, limit: 2)
        #expect(newest.messages.map(\.offset) == [6, 5])
        #expect(newest.messages.map(\.sequence) == [6, 5])
        try await nodes.close()
    }

    @Test func aPatternSubscribeWithATimeSpansNodes() async throws {
        var delays = LoopbackCluster.Delays()
        delays.position = .milliseconds(10)
        let nodes = try Cluster(delays: delays)
        for index in 1...5 {
            _ = try await nodes.publish("demo:\(index % 2 == 0 ? "b" : "a")", String(index), on: 0)
        }
        var client = try await nodes.connect(to: 2)
        try await client.send(#"{"type":"subscribe","topic":"demo:*","id":1,"since":{"ts":0}}"#)
        let live = Task { _ = try await nodes.publish("demo:c", "6", on: 1) }
        let frames = try await client.texts(7)
        #expect(frames[0].hasSuffix(#""recovered":true}"#))
        try await live.value
        #expect(Self.data(frames) == Array(1...6))
        try await nodes.close()
    }

    @Test func aDirectMessageAndADisconnectReachTheUserOnAnotherNode() async throws {
        let nodes = try Cluster()
        var cal = try await nodes.connect(to: 2, user: "cal")
        // The answer to the token: cal is known on node C.
        #expect(try await cal.texts(1)[0].contains("cal"))
        // Only the node with cal's connection subscribes to cal.
        #expect(try await nodes.cluster.interests(of: 2) == [.user("cal")])
        let receipt = try nodes.hubs[0].send(toUser: "cal", event: nil, data: ByteBuffer(string: "7"))
        let direct = try await cal.texts(1)[0]
        #expect(direct.contains(#""topic":"direct""#) && direct.contains(receipt.messageID))
        nodes.hubs[0].disconnect(user: "cal", reason: "bye", reconnect: false)
        let disconnect = try await cal.texts(1)[0]
        #expect(disconnect.contains(#""type":"disconnect""#) && disconnect.contains("bye"))
        #expect(nodes.cluster.routed(to: 1).isEmpty)
        try await nodes.close()
    }

    @Test func theLastLocalSubscriberGoneEndsTheInterest() async throws {
        let nodes = try Cluster()
        var first = try await nodes.connect(to: 1)
        var second = try await nodes.connect(to: 1)
        for client in [first, second] {
            try await client.send(#"{"type":"subscribe","topic":"chat:x","id":1}"#)
        }
        _ = try await first.texts(1)
        _ = try await second.texts(1)
        #expect(try await nodes.cluster.interests(of: 1) == [.topic("chat:x")])
        try await first.send(#"{"type":"unsubscribe","topic":"chat:x","id":2}"#)
        _ = try await first.texts(1)
        #expect(try await nodes.cluster.interests(of: 1) == [.topic("chat:x")])
        try await second.channel.close()
        #expect(try await nodes.cluster.interests(of: 1).isEmpty)
        _ = try await nodes.publish("chat:x", "1", on: 0)
        #expect(nodes.cluster.routed(to: 1).isEmpty)
        try await nodes.close()
    }

    @Test func patternsWithinANamespaceAndAcrossNamespaces() async throws {
        let nodes = try Cluster()
        var within = try await nodes.connect(to: 1)
        var across = try await nodes.connect(to: 2)
        try await within.send(#"{"type":"subscribe","topic":"chat:*","id":1}"#)
        try await across.send(#"{"type":"subscribe","topic":"**","id":1}"#)
        _ = try await within.texts(1)
        _ = try await across.texts(1)
        #expect(try await nodes.cluster.interests(of: 1) == [.namespace("chat")])
        #expect(try await nodes.cluster.interests(of: 2) == [.everything])
        _ = try await nodes.publish("news:x", "1", on: 0)
        _ = try await nodes.publish("chat:a", "2", on: 0)
        #expect(Self.data(try await within.texts(1)) == [2])
        #expect(Self.data(try await across.texts(2)) == [1, 2])
        #expect(nodes.cluster.routed(to: 1).map(\.envelope.topic) == ["chat:a"])
        try await nodes.close()
    }
}
