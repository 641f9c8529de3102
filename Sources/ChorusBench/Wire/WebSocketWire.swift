public import NIOCore

/// The few pieces of RFC 6455 a load generator needs: masked client frames out, unmasked server
/// frames in. Kept apart from NIOWebSocket so that a subscriber that only counts deliveries can
/// hop from header to header without materialising a frame value per message.
public enum WebSocketWire {
    public static let text: UInt8 = 0x1
    public static let close: UInt8 = 0x8
    public static let ping: UInt8 = 0x9
    public static let pong: UInt8 = 0xA

    /// A client frame with the all-zero masking key: the mask bit is set, as the RFC requires
    /// of clients, and XOR with zeros leaves the payload as it is, so sending costs no pass over
    /// the bytes. The server still unmasks every byte, as it would for any key.
    public static func writeClientFrame(opcode: UInt8, payload: ByteBuffer, into buffer: inout ByteBuffer) {
        let length = payload.readableBytes
        buffer.writeInteger(0x80 | opcode)
        if length < 126 {
            buffer.writeInteger(UInt8(0x80 | length))
        } else if length <= 0xFFFF {
            buffer.writeInteger(UInt8(0x80 | 126))
            buffer.writeInteger(UInt16(length))
        } else {
            buffer.writeInteger(UInt8(0x80 | 127))
            buffer.writeInteger(UInt64(length))
        }
        buffer.writeInteger(UInt32(0))
        buffer.writeImmutableBuffer(payload)
    }

    public static func clientFrame(opcode: UInt8, payload: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: payload.readableBytes + 14)
        self.writeClientFrame(opcode: opcode, payload: payload, into: &buffer)
        return buffer
    }

    /// The header of a server frame starting at `index`.
    public struct FrameHeader: Equatable, Sendable {
        public var opcode: UInt8
        public var headerLength: Int
        public var payloadLength: Int
    }

    /// Reads the frame header at `index` of `buffer`, or nil when fewer bytes than a header
    /// have arrived. Masked server frames are not expected; their key is skipped all the same.
    public static func header(in buffer: ByteBuffer, at index: Int) -> FrameHeader? {
        guard let first = buffer.getInteger(at: index, as: UInt8.self),
            let second = buffer.getInteger(at: index + 1, as: UInt8.self)
        else { return nil }
        let maskLength = second & 0x80 != 0 ? 4 : 0
        let opcode = first & 0x0F
        switch second & 0x7F {
        case 126:
            guard let length = buffer.getInteger(at: index + 2, as: UInt16.self) else { return nil }
            return FrameHeader(opcode: opcode, headerLength: 4 + maskLength, payloadLength: Int(length))
        case 127:
            guard let length = buffer.getInteger(at: index + 2, as: UInt64.self) else { return nil }
            return FrameHeader(opcode: opcode, headerLength: 10 + maskLength, payloadLength: Int(truncatingIfNeeded: length))
        case let length:
            return FrameHeader(opcode: opcode, headerLength: 2 + maskLength, payloadLength: Int(length))
        }
    }
}
