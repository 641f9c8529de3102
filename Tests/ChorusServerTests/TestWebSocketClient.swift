import Foundation
import NIOCore
import NIOPosix

/// A deliberately small WebSocket client over a real socket, for tests that drive the hub
/// in-process: handshake, masked text frames out, unmasked frames in.
struct TestWebSocketClient {
    let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private var buffer = ByteBuffer()

    struct Frame {
        var opcode: UInt8
        var payload: ByteBuffer
        var text: String { String(buffer: self.payload) }
    }

    static func connect(port: Int, path: String = "/ws") async throws -> TestWebSocketClient {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        var client = TestWebSocketClient(channel: channel, inbound: channel.inbound.makeAsyncIterator())
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        try await channel.outbound.write(ByteBuffer(string: request))
        let head = try await client.readUntil("\r\n\r\n")
        guard head.hasPrefix("HTTP/1.1 101") else { throw TestClientError.handshakeRefused(head) }
        return client
    }

    /// NIO requires the writer to be finished before the client goes away.
    func close() async {
        self.channel.outbound.finish()
        try? await self.channel.channel.close()
    }

    mutating func send(_ text: String) async throws {
        var frame = ByteBuffer()
        let payload = Array(text.utf8)
        frame.writeInteger(UInt8(0x81))
        if payload.count < 126 {
            frame.writeInteger(UInt8(0x80 | payload.count))
        } else {
            frame.writeInteger(UInt8(0x80 | 126))
            frame.writeInteger(UInt16(payload.count))
        }
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        frame.writeBytes(mask)
        frame.writeBytes(payload.enumerated().map { $0.element ^ mask[$0.offset % 4] })
        try await self.channel.outbound.write(frame)
    }

    mutating func receive() async throws -> Frame {
        while true {
            if let frame = self.parseFrame() { return frame }
            try await self.readMore()
        }
    }

    private mutating func parseFrame() -> Frame? {
        var view = self.buffer
        guard let first = view.readInteger(as: UInt8.self), let second = view.readInteger(as: UInt8.self) else { return nil }
        var length = Int(second & 0x7F)
        if length == 126 {
            guard let extended = view.readInteger(as: UInt16.self) else { return nil }
            length = Int(extended)
        } else if length == 127 {
            guard let extended = view.readInteger(as: UInt64.self) else { return nil }
            length = Int(extended)
        }
        guard let payload = view.readSlice(length: length) else { return nil }
        self.buffer = view
        return Frame(opcode: first & 0x0F, payload: payload)
    }

    private mutating func readUntil(_ terminator: String) async throws -> String {
        while true {
            let text = String(buffer: self.buffer)
            if let range = text.range(of: terminator) {
                let head = String(text[..<range.upperBound])
                self.buffer.moveReaderIndex(forwardBy: head.utf8.count)
                return head
            }
            try await self.readMore()
        }
    }

    private mutating func readMore() async throws {
        guard var chunk = try await self.inbound.next() else { throw TestClientError.closed }
        self.buffer.writeBuffer(&chunk)
    }
}

enum TestClientError: Error {
    case handshakeRefused(String)
    case closed
}
