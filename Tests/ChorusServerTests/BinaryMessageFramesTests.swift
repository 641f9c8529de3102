import ChorusCore
import NIOCore
import Testing

@testable import ChorusServer

/// A binary message has two WebSocket encodings, each made once per node and shared: a binary
/// frame for connections that opted in, base64 JSON for the rest (and SSE). A JSON message has
/// one, whatever the connection asked for.
struct BinaryMessageFramesTests {
    let bytes = ByteBuffer(bytes: [0, 1, 0xFF, 0x7B])

    func message(binary: Bool) -> OutboundMessage {
        let envelope = MessageEnvelope(topic: "chat:room", event: "blob", data: self.bytes, messageID: "m1", timestamp: 1_000, binary: binary)
        return OutboundMessage(envelope: envelope, topic: try! Topic("chat:room"), sequence: 1, excludedConnection: nil, allocator: ByteBufferAllocator())
    }

    /// The payload of an unmasked server frame, and its opcode.
    func payload(_ frame: ByteBuffer) -> (opcode: UInt8, payload: ByteBuffer) {
        let opcode = frame.getInteger(at: frame.readerIndex, as: UInt8.self)! & 0x0F
        let length = Int(frame.getInteger(at: frame.readerIndex + 1, as: UInt8.self)! & 0x7F)
        let header = length < 126 ? 2 : (length == 126 ? 4 : 10)
        return (opcode, frame.getSlice(at: frame.readerIndex + header, length: frame.readableBytes - header)!)
    }

    @Test func optedInConnectionsShareOneBinaryFrameAndTheRestBase64() throws {
        let message = self.message(binary: true)
        var frames = MessageFrames(message: message, pattern: nil, allocator: ByteBufferAllocator())
        let binary = frames.frame(for: .webSocket, binary: true)
        #expect(binary == message.webSocketBinaryFrame)
        let (opcode, payload) = self.payload(binary)
        #expect(opcode == 0x2)
        let parts = try BinaryFrame.split(payload)
        #expect(parts.data == self.bytes)
        #expect(String(buffer: parts.header).hasPrefix(#"{"type":"message","topic":"chat:room","event":"blob","message_id":"m1""#))
        let text = self.payload(frames.frame(for: .webSocket, binary: false))
        #expect(text.opcode == 0x1)
        #expect(String(buffer: text.payload).contains(#""data":"AAH/ew==","encoding":"base64""#))
        #expect(String(buffer: frames.frame(for: .sse)).contains(#""encoding":"base64""#))
    }

    @Test func patternsEncodeTheBinaryFrameOnceWithTheirSub() throws {
        var frames = MessageFrames(message: self.message(binary: true), pattern: "chat:*", allocator: ByteBufferAllocator())
        let first = frames.frame(for: .webSocket, binary: true)
        #expect(frames.frame(for: .webSocket, binary: true) == first)
        let parts = try BinaryFrame.split(self.payload(first).payload)
        #expect(String(buffer: parts.header).contains(#""sub":"chat:*""#) && parts.data == self.bytes)
    }

    @Test func aJSONMessageIsTextForEveryone() {
        let message = self.message(binary: false)
        #expect(message.webSocketBinaryFrame == nil)
        var frames = MessageFrames(message: message, pattern: nil, allocator: ByteBufferAllocator())
        #expect(frames.frame(for: .webSocket, binary: true) == message.webSocketFrame)
    }
}
