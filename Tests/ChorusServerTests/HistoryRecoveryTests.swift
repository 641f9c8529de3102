import ChorusCore
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import ChorusServer

/// ``HistoryFeature`` and the recovery gate through real connections on testing channels (no
/// socket): a WebSocket `subscribe` with `since` and an SSE resume replay what the client
/// missed, then the live messages follow. The history store answers on its own threads, hence
/// the thread-safe testing loop rather than an embedded one.
@Suite struct HistoryRecoveryTests {
    final class Harness: Sendable {
        let hub: Hub
        let loop = NIOAsyncTestingEventLoop()
        let receipts: [Hub.Receipt]
        /// The store's committer, running until ``close()``.
        let store: Task<Void, any Error>

        /// A hub with an in-memory store and `count` messages already stored in `demo:a`.
        init(stored count: Int) async throws {
            var configuration = HubConfiguration()
            configuration.namespaces = ["demo": NamespaceOptions(historySize: 1000)]
            let store = try GroupCommitStore(backend: MemoryMessageStore())
            self.store = Task { try await store.run() }
            self.hub = try Hub(
                configuration: configuration, eventLoopGroup: self.loop, authenticator: Authenticator(configuration: configuration), historyStore: store
            )
            var receipts: [Hub.Receipt] = []
            for index in 1...count {
                receipts.append(try await self.hub.publishAndWait(topic: Topic("demo:a"), event: nil, data: ByteBuffer(string: String(index))))
            }
            self.receipts = receipts
        }

        func connect(uri: String, headers: HTTPHeaders = [:], sse: Bool = false) async throws -> Client {
            let channel = NIOAsyncTestingChannel(loop: self.loop)
            try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1))
            let hub = self.hub
            let request = ConnectRequest(head: HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: headers), remoteAddress: "127.0.0.1")
            let patterns = try request.topics.map { (try TopicPattern($0), false) }
            try await self.loop.submit {
                let shard = hub.shard(for: channel.eventLoop)
                let handler: any ChannelHandler =
                    sse
                    ? SSEConnection(
                        hub: hub, shard: shard, request: request, identity: .anonymous, access: nil,
                        patterns: patterns, allowOrigin: nil
                    )
                    : WebSocketConnection(hub: hub, shard: shard, request: request, version: .v1)
                try channel.pipeline.syncOperations.addHandler(handler)
            }.get()
            return Client(channel: channel)
        }

        func close() async {
            self.store.cancel()
            try? await self.store.value
        }
    }

    struct Client {
        let channel: NIOAsyncTestingChannel
        var received: [UInt8] = []
        private var frames: [WebSocketWire.Frame] = []

        init(channel: NIOAsyncTestingChannel) {
            self.channel = channel
        }

        func send(_ text: String) async throws {
            try await self.channel.writeInbound(ByteBuffer(bytes: WebSocketWire.clientFrame(opcode: 0x1, payload: Array(text.utf8))))
        }

        /// Waits for `count` more text frames.
        mutating func texts(_ count: Int) async throws -> [String] {
            while self.frames.count < count {
                var write = try await self.channel.waitForOutboundWrite(as: ByteBuffer.self)
                let (frames, rest) = WebSocketWire.serverFrames(self.received + (write.readBytes(length: write.readableBytes) ?? []))
                self.frames += frames
                self.received = rest
            }
            defer { self.frames.removeFirst(count) }
            return self.frames.prefix(count).compactMap(\.text)
        }

        /// Waits until the stream's text holds `expected`, and returns all of it.
        mutating func stream(until expected: String) async throws -> String {
            while !String(decoding: self.received, as: UTF8.self).contains(expected) {
                var write = try await self.channel.waitForOutboundWrite(as: ByteBuffer.self)
                self.received += write.readBytes(length: write.readableBytes) ?? []
            }
            return String(decoding: self.received, as: UTF8.self)
        }
    }

    @Test func aTopicSubscribeWithSinceReplaysThenGoesLive() async throws {
        let harness = try await Harness(stored: 3)
        let epoch = try #require(harness.receipts[0].epoch)
        var client = try await harness.connect(uri: "/ws")
        try await client.send(#"{"type":"subscribe","topic":"demo:a","id":1,"since":{"offset":1,"epoch":"\#(epoch)"}}"#)
        let replay = try await client.texts(3)
        #expect(replay[0] == #"{"type":"subscribed","id":1,"topic":"demo:a","offset":3,"epoch":"\#(epoch)","recovered":true}"#)
        #expect(replay[1].contains(#""data":2,"#) && replay[1].contains(#""offset":2,"#))
        #expect(replay[2].contains(#""data":3,"#) && replay[2].contains(#""offset":3,"#))
        _ = try await harness.hub.publishAndWait(topic: Topic("demo:a"), event: nil, data: ByteBuffer(string: "4"))
        let live = try await client.texts(1)
        #expect(live[0].contains(#""data":4,"#) && live[0].contains(#""offset":4,"#))
        try await client.channel.close()
        await harness.close()
    }

    @Test func anUnknownEpochIsNotRecoveredAndReplaysNothing() async throws {
        let harness = try await Harness(stored: 2)
        var client = try await harness.connect(uri: "/ws")
        try await client.send(#"{"type":"subscribe","topic":"demo:a","id":1,"since":{"offset":1,"epoch":"other"}}"#)
        try await client.send(#"{"type":"ping","id":2}"#)
        let answers = try await client.texts(2)
        #expect(answers[0].hasSuffix(#""offset":2,"epoch":"\#(harness.receipts[0].epoch ?? "")","recovered":false}"#))
        #expect(answers[1] == #"{"type":"pong","id":2}"#)
        try await client.channel.close()
        await harness.close()
    }

    @Test func aPatternSubscribeWithATimeReplaysEveryMatchingTopic() async throws {
        let harness = try await Harness(stored: 2)
        var client = try await harness.connect(uri: "/ws")
        try await client.send(#"{"type":"subscribe","topic":"demo:*","id":1,"since":{"ts":0}}"#)
        let replay = try await client.texts(3)
        #expect(replay[0] == #"{"type":"subscribed","id":1,"topic":"demo:*","recovered":true}"#)
        #expect(replay[1].contains(#""data":1,"#) && replay[1].hasSuffix(#","sub":"demo:*"}"#))
        #expect(replay[2].contains(#""data":2,"#) && replay[2].hasSuffix(#","sub":"demo:*"}"#))
        try await client.channel.close()
        await harness.close()
    }

    @Test func anSSEStreamResumesAfterItsLastEventID() async throws {
        let harness = try await Harness(stored: 3)
        var client = try await harness.connect(uri: "/sse?topic=demo:a", headers: ["last-event-id": "1"], sse: true)
        let replayed = try await client.stream(until: "id: 3\n")
        #expect(!replayed.contains("id: 1\n") && replayed.contains("id: 2\nevent: message\ndata: "))
        _ = try await harness.hub.publishAndWait(topic: Topic("demo:a"), event: nil, data: ByteBuffer(string: "4"))
        let live = try await client.stream(until: "id: 4\n")
        #expect(live.split(separator: "id: 3\n", omittingEmptySubsequences: false).count == 2)
        try await client.channel.close()
        await harness.close()
    }
}
