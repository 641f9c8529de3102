import NIOCore
import NIOWebSocket
import Testing

@testable import ChorusServer

/// The receive-side framing without I/O: every header length form, masking, frames split at
/// every byte and packed several to a read, and each violation.
@Suite struct WebSocketFrameParserTests {
    /// The wire bytes of one client frame.
    private static func wire(opcode: UInt8, _ payload: [UInt8], fin: Bool = true, mask: [UInt8]? = [1, 2, 3, 4], rsv: UInt8 = 0) -> [UInt8] {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | rsv | opcode]
        let maskBit: UInt8 = mask == nil ? 0 : 0x80
        switch payload.count {
        case ..<126: bytes.append(maskBit | UInt8(payload.count))
        case ..<65536: bytes += [maskBit | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        default: bytes += [maskBit | 127] + (0..<8).reversed().map { UInt8((payload.count >> ($0 * 8)) & 0xFF) }
        }
        guard let mask else { return bytes + payload }
        return bytes + mask + payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    }

    private static func frames(from chunks: [[UInt8]], maxFrameSize: Int = 1 << 20) throws(WebSocketFrameParser.Failure) -> [WebSocketFrame] {
        var parser = WebSocketFrameParser(maxFrameSize: maxFrameSize)
        var frames: [WebSocketFrame] = []
        for chunk in chunks {
            parser.append(ByteBuffer(bytes: chunk))
            while let frame = try parser.next() { frames.append(frame) }
        }
        return frames
    }

    @Test(arguments: [0, 5, 125, 126, 65535, 65536, 70000])
    func everyLengthFormSplitAnywhere(length: Int) throws {
        let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let bytes = Self.wire(opcode: 0x1, payload) + Self.wire(opcode: 0x9, [7, 7], mask: [9, 8, 7, 6])
        // Whole, then split at a few places including inside the header and the mask.
        for split in Set([0, 1, 2, 3, 5, 9, 13, bytes.count / 2, bytes.count - 1]) where split < bytes.count {
            let frames = try Self.frames(from: [Array(bytes[..<split]), Array(bytes[split...])])
            #expect(frames.count == 2)
            #expect(frames[0].opcode == .text && frames[0].fin && frames[0].maskKey != nil)
            #expect(Array(frames[0].unmaskedData.readableBytesView) == payload)
            #expect(frames[1].opcode == .ping && Array(frames[1].unmaskedData.readableBytesView) == [7, 7])
        }
    }

    @Test func byteByByteAndUnmaskedAndReservedBits() throws {
        let bytes = Self.wire(opcode: 0x2, [1, 2, 3], fin: false, mask: nil, rsv: 0x40) + Self.wire(opcode: 0x0, [4])
        let frames = try Self.frames(from: bytes.map { [$0] })
        #expect(frames.count == 2)
        #expect(frames[0].maskKey == nil && frames[0].rsv1 && !frames[0].fin && frames[0].opcode == .binary)
        #expect(frames[1].opcode == .continuation && Array(frames[1].unmaskedData.readableBytesView) == [4])
    }

    @Test func refusesOversizedFramesFromTheHeaderAlone() {
        let header: [UInt8] = [0x81, 0x80 | 127, 0, 0, 0, 0, 0, 0xA0, 0, 0]  // 10 MiB, no payload sent
        #expect(throws: WebSocketFrameParser.Failure.tooLarge) { try Self.frames(from: [header]) }
        #expect(throws: WebSocketFrameParser.Failure.tooLarge) { try Self.frames(from: [Self.wire(opcode: 0x1, Array(repeating: 0, count: 101))], maxFrameSize: 100) }
        let hugest: [UInt8] = [0x81, 0xFF] + Array(repeating: 0xFF, count: 8)
        #expect(throws: WebSocketFrameParser.Failure.tooLarge) { try Self.frames(from: [hugest]) }
    }

    @Test func refusesBrokenControlFrames() {
        #expect(throws: WebSocketFrameParser.Failure.protocolViolation("fragmented control frame")) {
            try Self.frames(from: [Self.wire(opcode: 0x9, [1], fin: false)])
        }
        #expect(throws: WebSocketFrameParser.Failure.protocolViolation("control frame longer than 125 bytes")) {
            try Self.frames(from: [Self.wire(opcode: 0x8, Array(repeating: 0, count: 126))])
        }
    }

    @Test func holdsNothingBetweenFrames() throws {
        var parser = WebSocketFrameParser(maxFrameSize: 1024)
        parser.append(ByteBuffer(bytes: Self.wire(opcode: 0x1, [65])))
        #expect(try parser.next() != nil)
        #expect(try parser.next() == nil)
    }
}
