import ChorusCore
import MetricsTestKit
import NIOCore
import NIOEmbedded
import NIOHTTP1

@testable import ChorusServer

/// A hub whose only event loop is an `EmbeddedEventLoop`, and one client connection of it on
/// an `EmbeddedChannel`: frames in, frames out, with no socket and no thread. Fan-out runs when
/// the test runs the loop (``run()``).
final class EmbeddedConnection<Handler: ClientConnectionHandler> {
    let hub: Hub
    let channel: EmbeddedChannel
    let connection: Handler
    /// Where the hub's metrics go.
    let metrics = TestMetrics()
    private var unread: [UInt8] = []

    var loop: EmbeddedEventLoop { self.channel.embeddedEventLoop }

    init(
        configuration: HubConfiguration = HubConfiguration(),
        customHandlers: [String: CustomFrameHandler] = [:],
        uri: String,
        headers: HTTPHeaders = [:],
        makeConnection: (Hub, LoopShard, ConnectRequest) throws -> Handler
    ) throws {
        let loop = EmbeddedEventLoop()
        self.hub = try Hub(
            configuration: configuration, eventLoopGroup: loop, authenticator: Authenticator(configuration: configuration),
            customHandlers: customHandlers, metricsFactory: self.metrics
        )
        self.channel = EmbeddedChannel(loop: loop)
        try self.channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        let request = ConnectRequest(head: HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: headers), remoteAddress: "127.0.0.1")
        self.connection = try makeConnection(self.hub, self.hub.shard(for: loop), request)
        try self.channel.pipeline.syncOperations.addHandler(self.connection)
    }

    /// Runs what is due on the loop: fan-out drains, answers from other threads.
    func run() {
        self.loop.run()
    }

    /// Every byte the hub wrote since the last call.
    func written() throws -> [UInt8] {
        var bytes = self.unread
        self.unread = []
        while var buffer = try self.channel.readOutbound(as: ByteBuffer.self) {
            bytes += buffer.readBytes(length: buffer.readableBytes) ?? []
        }
        return bytes
    }

    /// Publishes `count` messages of about a kilobyte to `topic` through the hub, and runs
    /// their fan-out.
    func publish(_ count: Int, to topic: String) throws {
        let data = ByteBuffer(string: "\"" + String(repeating: "x", count: 1000) + "\"")
        for _ in 0..<count { try self.hub.publish(topic: Topic(topic), event: nil, data: data) }
        self.run()
    }

    /// Makes the client stop (or resume) reading, as the socket's watermarks would report it.
    func setWritable(_ writable: Bool) {
        self.channel.isWritable = writable
        self.channel.pipeline.fireChannelWritabilityChanged()
    }

    func finish() {
        _ = try? self.channel.finish(acceptAlreadyClosed: true)
    }
}

extension EmbeddedConnection where Handler == WebSocketConnection {
    convenience init(configuration: HubConfiguration = HubConfiguration(), customHandlers: [String: CustomFrameHandler] = [:], uri: String = "/ws", headers: HTTPHeaders = [:]) throws {
        try self.init(configuration: configuration, customHandlers: customHandlers, uri: uri, headers: headers) { hub, shard, request in
            WebSocketConnection(hub: hub, shard: shard, request: request, version: .v1)
        }
    }

    /// Sends a text frame, masked as a client must.
    func send(_ text: String) throws {
        try self.send(opcode: 0x1, payload: Array(text.utf8))
    }

    func send(opcode: UInt8, payload: [UInt8]) throws {
        try self.channel.writeInbound(ByteBuffer(bytes: WebSocketWire.clientFrame(opcode: opcode, payload: payload)))
    }

    /// The frames the hub wrote since the last call.
    func frames() throws -> [WebSocketWire.Frame] {
        let (frames, rest) = WebSocketWire.serverFrames(try self.written())
        self.unread = rest
        return frames
    }

    /// The text frames the hub wrote since the last call.
    func texts() throws -> [String] {
        try self.frames().compactMap(\.text)
    }
}

/// Both ends of RFC 6455 framing as tests need them, written from the RFC rather than from the
/// hub's own encoder: masked client frames, and the unmasked frames a server sends.
enum WebSocketWire {
    struct Frame: Equatable {
        var opcode: UInt8
        var payload: [UInt8]

        var text: String? { self.opcode == 0x1 ? String(decoding: self.payload, as: UTF8.self) : nil }
        /// The status code of a close frame.
        var closeCode: UInt16? {
            guard self.opcode == 0x8, self.payload.count >= 2 else { return nil }
            return UInt16(self.payload[0]) << 8 | UInt16(self.payload[1])
        }
    }

    static func clientFrame(opcode: UInt8, payload: [UInt8], fin: Bool = true) -> [UInt8] {
        let mask: [UInt8] = [0x11, 0x22, 0x33, 0x44]
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        switch payload.count {
        case ..<126:
            bytes.append(0x80 | UInt8(payload.count))
        case ..<65536:
            bytes += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        default:
            bytes.append(0x80 | 127)
            bytes += (0..<8).reversed().map { UInt8(truncatingIfNeeded: payload.count >> ($0 * 8)) }
        }
        bytes += mask
        bytes += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        return bytes
    }

    static func close(code: UInt16) -> [UInt8] {
        [UInt8(code >> 8), UInt8(code & 0xFF)]
    }

    /// The whole frames in `bytes`, and what follows the last of them.
    static func serverFrames(_ bytes: [UInt8]) -> (frames: [Frame], rest: [UInt8]) {
        var frames: [Frame] = []
        var index = 0
        while bytes.count - index >= 2 {
            precondition(bytes[index + 1] & 0x80 == 0, "a server frame is never masked")
            var length = Int(bytes[index + 1] & 0x7F)
            var start = index + 2
            if length == 126 {
                guard bytes.count >= start + 2 else { break }
                length = Int(bytes[start]) << 8 | Int(bytes[start + 1])
                start += 2
            } else if length == 127 {
                guard bytes.count >= start + 8 else { break }
                length = bytes[start..<start + 8].reduce(0) { $0 << 8 | Int($1) }
                start += 8
            }
            guard bytes.count >= start + length else { break }
            frames.append(Frame(opcode: bytes[index] & 0x0F, payload: Array(bytes[start..<start + length])))
            index = start + length
        }
        return (frames, Array(bytes[index...]))
    }
}
