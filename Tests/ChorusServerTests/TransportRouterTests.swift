import ChorusCore
import Foundation
import Logging
import NIOCore
import NIOEmbedded
import Testing

@testable import ChorusServer

/// The production connection pipeline (``ChorusChildChannel``'s router, Hummingbird's
/// responder, the WebSocket and SSE handlers) on a testing channel: requests pipelined ahead
/// of a take-over are answered in order, and nothing of Hummingbird's writes afterwards
/// (issue #21, defects 1 and 7).
@Suite struct TransportRouterTests {
    static let health = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    static let upgrade =
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    /// A masked client ping with payload "hi", and the pong that answers it.
    static let ping: [UInt8] = [0x89, 0x82, 1, 2, 3, 4, UInt8(ascii: "h") ^ 1, UInt8(ascii: "i") ^ 2]
    static let pong: [UInt8] = [0x8A, 0x02, UInt8(ascii: "h"), UInt8(ascii: "i")]

    struct Connection {
        let channel: NIOAsyncTestingChannel
        let task: Task<Void, Never>
        var received: [UInt8] = []

        init(configuration: HubConfiguration = HubConfiguration()) async throws {
            let loop = NIOAsyncTestingEventLoop()
            var configuration = configuration
            configuration.port = 0
            let hub = try Hub(configuration: configuration, eventLoopGroup: loop, authenticator: Authenticator(configuration: configuration))
            self.channel = NIOAsyncTestingChannel(loop: loop)
            try await self.channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1))
            let logger = Logger(label: "test")
            self.task = try await ChorusChildChannel.serve(self.channel, hub: hub, responder: APIResponder.make(hub: hub, logger: logger), logger: logger)
        }

        func send(_ bytes: [UInt8]) async throws {
            try await self.channel.writeInbound(ByteBuffer(bytes: bytes))
        }

        /// Reads what the hub writes until `expected` has arrived after what was read before.
        mutating func receive(_ expected: [UInt8]) async throws -> [UInt8] {
            let start = self.received.count
            while !self.received[start...].contains(subsequence: expected) {
                var write = try await self.channel.waitForOutboundWrite(as: ByteBuffer.self)
                self.received += write.readBytes(length: write.readableBytes) ?? []
            }
            return Array(self.received[start...])
        }

        /// Closes the channel (unless the hub did) and waits for the connection's task to end.
        func close() async {
            try? await self.channel.close()
            await self.task.value
        }
    }

    @Test func healthThenUpgradeInOneWriteAnswersBothInOrder() async throws {
        var connection = try await Connection()
        try await connection.send(Array((Self.health + Self.upgrade).utf8))
        let text = String(decoding: try await connection.receive(Array("Sec-WebSocket-Accept".utf8)), as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 200 OK") && text.contains(#"{"status":"ok"}HTTP/1.1 101"#))
        // The WebSocket handler owns the connection: a ping is answered with a pong frame.
        try await connection.send(Self.ping)
        #expect(try await connection.receive(Self.pong) == Self.pong)
        // Hummingbird's task ends with the channel.
        await connection.close()
    }

    @Test func healthThenSSEInOneWriteAnswersBothInOrder() async throws {
        var connection = try await Connection()
        try await connection.send(Array((Self.health + "GET /sse?topic=a HTTP/1.1\r\nHost: x\r\n\r\n").utf8))
        let text = String(decoding: try await connection.receive(Array("text/event-stream".utf8)), as: UTF8.self)
        let ok = try #require(text.range(of: #"{"status":"ok"}"#))
        #expect(text[ok.upperBound...].hasPrefix("HTTP/1.1 200 OK"))
        await connection.close()
    }

    @Test func pipelinedPlainRequestsAreAnsweredInOrder() async throws {
        var connection = try await Connection()
        try await connection.send(Array((Self.health + "GET /ready HTTP/1.1\r\nHost: x\r\n\r\n" + Self.health).utf8))
        let text = String(decoding: try await connection.receive(Array(#"{"status":"ready"}"#.utf8)), as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 200 OK") && text.contains(#"{"status":"ok"}HTTP/1.1 200 OK"#))
        _ = try await connection.receive(Array(#"{"status":"ok"}"#.utf8))
        await connection.close()
    }

    @Test func framesInTheUpgradeWriteAreAnsweredWithThe101() async throws {
        var connection = try await Connection()
        try await connection.send(Array(Self.upgrade.utf8) + Self.ping)
        let bytes = try await connection.receive(Self.pong)
        #expect(String(decoding: bytes, as: UTF8.self).hasPrefix("HTTP/1.1 101"))
        await connection.close()
    }

    @Test(arguments: ["//api/publish", "/api//publish", "/./api/stats", "/x/../api/stats", "//ws", "http://x/api/stats"])
    func nonCanonicalPathsAreRefused(path: String) async throws {
        var connection = try await Connection()
        try await connection.send(Array("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        let text = String(decoding: try await connection.receive(Array("not canonical".utf8)), as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 400"))
        await connection.close()
    }

    @Test func canonicalPaths() {
        for path in ["/", "/api/publish", "/js/chorus.js", "/demo/", "/api/topics/chat:room.1/history", "/api/users/a%2Fb/send"] {
            #expect(RequestPath.isCanonical(RequestPath.of(path)), "\(path)")
        }
        #expect(RequestPath.of("/sse?topic=a") == "/sse")
    }
}

extension ArraySlice where Element == UInt8 {
    fileprivate func contains(subsequence: [UInt8]) -> Bool {
        guard subsequence.count <= self.count else { return false }
        return self.indices.dropLast(subsequence.count - 1).contains { self[$0..<$0 + subsequence.count].elementsEqual(subsequence) }
    }
}
