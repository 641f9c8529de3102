import NIOCore
import NIOEmbedded
import NIOWebSocket

/// WebSocket frames from fuzzed bytes, either cut from a byte stream by NIO's decoder (the
/// hub's own first stage) or built from flag bytes and payload pieces.
enum FuzzWebSocketFrames {
    /// The frames NIO's decoder yields before the stream ends or breaks a rule it enforces
    /// (a control frame over 125 bytes, a frame over `maxFrameSize`), as the hub would see them.
    static func decode(_ bytes: ByteBuffer, maxFrameSize: Int) -> [WebSocketFrame] {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: maxFrameSize)))
        defer { _ = try? channel.finish() }
        // An error ends the stream; the frames decoded before it still count.
        _ = try? channel.writeInbound(bytes)
        var frames: [WebSocketFrame] = []
        while let frame = try? channel.readInbound(as: WebSocketFrame.self) {
            frames.append(frame)
        }
        return frames
    }

    /// The single frame in `bytes`, or nil when they are not exactly one whole frame.
    static func decodeOne(_ bytes: ByteBuffer) -> WebSocketFrame? {
        let frames = self.decode(bytes, maxFrameSize: 1 << 20)
        return frames.count == 1 ? frames[0] : nil
    }

    /// Frames built from pairs of a header byte (as on the wire: FIN, RSV1-3, opcode) and a
    /// payload piece, masked as a client must. Payloads are cut to what the decoder lets through.
    static func build(from input: inout FuzzInput, maxFrameSize: Int) -> [WebSocketFrame] {
        let maskKey = WebSocketMaskingKey([0x37, 0xFA, 0x21, 0x3D])!
        var frames: [WebSocketFrame] = []
        while !input.isEmpty {
            let header = UInt8(input.choice(of: 256))
            let opcode = WebSocketOpcode(encodedWebSocketOpcode: header & 0x0F)!
            let limit = opcode.isControlOpcode ? 125 : maxFrameSize
            var payload = ByteBuffer(bytes: input.piece().prefix(limit))
            payload.webSocketMask(maskKey)
            frames.append(
                WebSocketFrame(
                    fin: header & 0x80 != 0,
                    rsv1: header & 0x40 != 0,
                    rsv2: header & 0x20 != 0,
                    rsv3: header & 0x10 != 0,
                    opcode: opcode,
                    maskKey: maskKey,
                    data: payload
                )
            )
        }
        return frames
    }
}
