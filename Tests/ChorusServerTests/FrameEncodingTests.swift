import NIOCore
import Testing

@testable import ChorusServer

@Suite struct FrameEncodingTests {
    /// Decodes a server frame the way a client would: FIN/opcode, length forms, no mask.
    func parse(_ frame: ByteBuffer) -> (opcode: UInt8, fin: Bool, payload: [UInt8])? {
        var buffer = frame
        guard let first = buffer.readInteger(as: UInt8.self), let second = buffer.readInteger(as: UInt8.self) else { return nil }
        guard second & 0x80 == 0 else { return nil }  // servers never mask
        var length = Int(second & 0x7F)
        if length == 126 { length = Int(buffer.readInteger(as: UInt16.self)!) }
        else if length == 127 { length = Int(buffer.readInteger(as: UInt64.self)!) }
        guard buffer.readableBytes == length else { return nil }
        return (first & 0x0F, first & 0x80 != 0, buffer.readBytes(length: length)!)
    }

    @Test(arguments: [0, 1, 125, 126, 127, 65535, 65536, 200_000])
    func textFramesUseTheShortestLengthForm(size: Int) throws {
        let payload = [UInt8](repeating: UInt8(ascii: "x"), count: size)
        let frame = WebSocketFrameEncoding.textFrame(allocator: ByteBufferAllocator(), capacity: 16) { $0.writeBytes(payload) }
        let parsed = try #require(self.parse(frame))
        #expect(parsed.opcode == 0x1)
        #expect(parsed.fin)
        #expect(parsed.payload == payload)
        let expectedHeader = size < 126 ? 2 : (size <= 65535 ? 4 : 10)
        #expect(frame.readableBytes == expectedHeader + size)
    }

    @Test func closeFramesCarryCodeAndATruncatedReason() throws {
        let long = String(repeating: "é", count: 100)  // 200 bytes: must be cut to fit 125
        let frame = WebSocketFrameEncoding.closeFrame(code: 4008, reason: long, allocator: ByteBufferAllocator())
        let parsed = try #require(self.parse(frame))
        #expect(parsed.opcode == 0x8)
        #expect(parsed.payload.count <= 125)
        #expect(parsed.payload[0] == 0x0F && parsed.payload[1] == 0xA8)  // 4008
        #expect(String(validating: parsed.payload.dropFirst(2), as: UTF8.self) != nil)
    }

    @Test func sseEventsAreOneChunkWithDataOnOneLine() {
        let event = SSEEncoding.event(id: "m-1", name: "chat\nmsg", allocator: ByteBufferAllocator(), capacity: 8) { buffer in
            buffer.writeString("{\"a\":\n1}")
        }
        let text = String(buffer: event)
        let body = "id: m-1\nevent: chat msg\ndata: {\"a\": 1}\n\n"
        #expect(text == String(body.utf8.count, radix: 16) + "\r\n" + body + "\r\n")
        #expect(String(buffer: SSEEncoding.comment("ping", allocator: ByteBufferAllocator())) == "8\r\n: ping\n\n\r\n")
        #expect(String(buffer: SSEEncoding.lastChunk(allocator: ByteBufferAllocator())) == "0\r\n\r\n")
    }
}
