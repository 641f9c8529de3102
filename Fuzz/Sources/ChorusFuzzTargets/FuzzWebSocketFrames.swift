import ChorusServer
import NIOCore
import NIOEmbedded
import NIOWebSocket

/// WebSocket frames from fuzzed bytes, either cut from a byte stream by the hub's own
/// ``WebSocketFrameParser`` or built from flag bytes and payload pieces.
enum FuzzWebSocketFrames {
    /// The frames the hub's parser yields before the stream ends or breaks a framing rule, as
    /// the hub would see them. On the way it checks the parser against NIO's
    /// `WebSocketFrameDecoder` (the same frames, and a refusal where NIO refuses) and against
    /// itself fed the same bytes in two pieces.
    static func decode(_ bytes: ByteBuffer, maxFrameSize: Int) -> [WebSocketFrame] {
        let whole = self.parse([bytes], maxFrameSize: maxFrameSize)
        let cut = bytes.readableBytes / 3
        let pieces = [bytes.getSlice(at: bytes.readerIndex, length: cut)!, bytes.getSlice(at: bytes.readerIndex + cut, length: bytes.readableBytes - cut)!]
        let split = self.parse(pieces, maxFrameSize: maxFrameSize)
        precondition(whole.frames.map(Self.describe) == split.frames.map(Self.describe) && whole.refused == split.refused, "frames depend on how the bytes arrive")
        let reference = self.decodeWithNIO(bytes, maxFrameSize: maxFrameSize)
        precondition(whole.frames.map(Self.describe) == reference.frames.map(Self.describe), "the parser and NIO's decoder disagree on the frames")
        precondition(whole.refused == reference.refused, "the parser and NIO's decoder disagree on refusing the stream")
        return whole.frames
    }

    private static func parse(_ pieces: [ByteBuffer], maxFrameSize: Int) -> (frames: [WebSocketFrame], refused: Bool) {
        var parser = WebSocketFrameParser(maxFrameSize: maxFrameSize)
        var frames: [WebSocketFrame] = []
        for piece in pieces {
            parser.append(piece)
            do {
                while let frame = try parser.next() { frames.append(frame) }
            } catch {
                return (frames, true)
            }
        }
        return (frames, false)
    }

    private static func decodeWithNIO(_ bytes: ByteBuffer, maxFrameSize: Int) -> (frames: [WebSocketFrame], refused: Bool) {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: maxFrameSize)))
        defer { _ = try? channel.finish() }
        let refused = (try? channel.writeInbound(bytes)) == nil
        var frames: [WebSocketFrame] = []
        while let frame = try? channel.readInbound(as: WebSocketFrame.self) {
            frames.append(frame)
        }
        return (frames, refused)
    }

    private static func describe(_ frame: WebSocketFrame) -> String {
        "\(frame.fin) \(frame.rsv1) \(frame.rsv2) \(frame.rsv3) \(frame.opcode) \(frame.maskKey.map { Array($0) } ?? []) \(Array(frame.data.readableBytesView))"
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
