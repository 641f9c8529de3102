import ChorusCore
import NIOCore
import NIOEmbedded
import Testing

@testable import ChorusServer

/// ``SSEConnection`` on an `EmbeddedChannel`: the response head, events as HTTP chunks, the
/// keep-alive comment, and the `disconnect` event that ends the stream.
@Suite struct SSEConnectionTests {
    typealias Stream = EmbeddedConnection<SSEConnection>

    static func stream(_ topics: [String], configuration: HubConfiguration = HubConfiguration(), allowOrigin: String? = nil) throws -> Stream {
        try Stream(configuration: configuration, uri: "/sse") { hub, shard, request in
            SSEConnection(
                hub: hub,
                shard: shard,
                request: request,
                identity: .anonymous,
                access: TopicAccess.make(for: .anonymous, configuration: configuration),
                patterns: try topics.map { (try TopicPattern($0), false) },
                allowOrigin: allowOrigin
            )
        }
    }

    static func text(_ stream: Stream) throws -> String {
        String(decoding: try stream.written(), as: UTF8.self)
    }

    @Test func theStreamOpensWithItsHeadAndAConnectedComment() throws {
        let stream = try Self.stream(["chat:a"], allowOrigin: "https://app.example")
        defer { stream.finish() }
        let text = try Self.text(stream)
        #expect(text.hasPrefix("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"))
        #expect(text.contains("transfer-encoding: chunked\r\n"))
        #expect(text.contains("access-control-allow-origin: https://app.example\r\nvary: origin\r\n\r\n"))
        #expect(text.hasSuffix(": connected \(stream.connection.info.client)\n\n\r\n"))
    }

    @Test func messagesOfItsTopicsArriveAsEvents() throws {
        let stream = try Self.stream(["chat:a", "room.*"])
        defer { stream.finish() }
        _ = try stream.written()
        try stream.hub.publish(topic: Topic("chat:a"), event: "said", data: ByteBuffer(string: "1"))
        try stream.hub.publish(topic: Topic("room.b"), event: nil, data: ByteBuffer(string: "2"))
        try stream.hub.publish(topic: Topic("chat:other"), event: nil, data: ByteBuffer(string: "3"))
        stream.run()
        let text = try Self.text(stream)
        #expect(text.contains("event: said\ndata: {\"type\":\"message\",\"topic\":\"chat:a\",\"event\":\"said\""))
        // A pattern's messages say which subscription matched them.
        #expect(text.contains(#""topic":"room.b""#) && text.contains(#""sub":"room.*""#))
        #expect(!text.contains("chat:other"))
    }

    @Test func whatTheClientSendsIsIgnored() throws {
        let stream = try Self.stream(["chat:a"])
        defer { stream.finish() }
        _ = try stream.written()
        try stream.channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"))
        #expect(try stream.written().isEmpty)
        #expect(stream.channel.isActive)
    }

    @Test func theSweepKeepsTheStreamAlive() throws {
        var configuration = HubConfiguration()
        configuration.sseKeepAliveInterval = .seconds(15)
        let stream = try Self.stream(["chat:a"], configuration: configuration)
        defer { stream.finish() }
        _ = try stream.written()
        stream.connection.sweep(now: .now() + .seconds(1))
        #expect(try stream.written().isEmpty)
        stream.connection.sweep(now: .now() + .seconds(16))
        #expect(try Self.text(stream).hasSuffix(": ping\n\n\r\n"))
    }

    @Test func disconnectSendsTheEventEndsTheBodyAndCloses() throws {
        let stream = try Self.stream(["chat:a"])
        defer { stream.finish() }
        _ = try stream.written()
        stream.hub.disconnectAll(reason: "bye")
        stream.run()
        let text = try Self.text(stream)
        #expect(text.contains("event: disconnect\ndata: {\"type\":\"disconnect\",\"code\":1001,\"reason\":\"bye\",\"reconnect\":true}\n\n"))
        #expect(text.hasSuffix("0\r\n\r\n"))
        #expect(!stream.channel.isActive)
    }

    @Test func aStreamThatStopsReadingIsCut() throws {
        var configuration = HubConfiguration()
        configuration.maxBacklog = 4 << 10
        let stream = try Self.stream(["chat:a"], configuration: configuration)
        defer { stream.finish() }
        _ = try stream.written()
        stream.setWritable(false)
        try stream.publish(6, to: "chat:a")
        #expect(!stream.channel.isActive)
        // Cut without the `disconnect` event: a client that does not read would never get it.
        #expect(try !Self.text(stream).contains("event: disconnect"))
    }
}
