import ChorusCore
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

@testable import ChorusClient

/// `HubHTTP.request` against a server that answers a request as soon as its head is complete
/// and closes at once, as the hub does with `Connection: close`: the reply must be read however
/// fast the close follows it.
@Suite struct HubHTTPTests {
    /// Answers `200` with a small body after the first blank line, then closes.
    final class AnswerAtHead: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        private var seen = ByteBuffer()
        private var answered = false

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var chunk = Self.unwrapInboundIn(data)
            self.seen.writeBuffer(&chunk)
            guard !self.answered, String(buffer: self.seen).contains("\r\n\r\n") else { return }
            self.answered = true
            let reply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}"
            context.writeAndFlush(Self.wrapOutboundOut(ByteBuffer(string: reply))).whenComplete { _ in context.close(promise: nil) }
        }
    }

    @Test func aReplyFollowedAtOnceByACloseIsRead() async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { $0.pipeline.addHandler(AnswerAtHead()) }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let port = try #require(server.localAddress?.port)
        let endpoint = try HubEndpoint("http://127.0.0.1:\(port)")
        // The close races the client's writes; on a busy machine it won before the fix (three
        // busy processes beside this test: "I/O on closed channel" within 2,000 requests; 800 here keep the test short).
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    for _ in 0..<50 {
                        let reply = try await HubHTTP.request(endpoint, method: .GET, path: "/api/events/log?after=0", bearer: "k")
                        #expect(reply.status == 200)
                        #expect(String(buffer: reply.body) == #"{"ok":true}"#)
                    }
                }
            }
            try await group.waitForAll()
        }
        try await server.close()
    }
}
