package import NIOCore

/// Builds unmasked server WebSocket frames as plain bytes, so one frame can be written to
/// every subscriber's socket as is.
package enum WebSocketFrameEncoding {
    /// The largest header a frame can have (2 + 8 bytes of extended length); the payload is
    /// written after that much room and the real header is put right before it, so no copy.
    private static let maxHeaderSize = 10

    package static func textFrame(allocator: ByteBufferAllocator, capacity: Int, payload: (inout ByteBuffer) -> Void) -> ByteBuffer {
        self.frame(opcode: 0x1, allocator: allocator, capacity: capacity, payload: payload)
    }

    /// A binary data frame (opcode 0x2), as ``textFrame(allocator:capacity:payload:)``.
    package static func binaryFrame(allocator: ByteBufferAllocator, capacity: Int, payload: (inout ByteBuffer) -> Void) -> ByteBuffer {
        self.frame(opcode: 0x2, allocator: allocator, capacity: capacity, payload: payload)
    }

    static func frame(opcode: UInt8, allocator: ByteBufferAllocator, capacity: Int, payload: (inout ByteBuffer) -> Void) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: capacity + self.maxHeaderSize)
        buffer.moveWriterIndex(forwardBy: self.maxHeaderSize)
        buffer.moveReaderIndex(forwardBy: self.maxHeaderSize)
        payload(&buffer)
        let length = buffer.readableBytes
        let headerSize = length < 126 ? 2 : (length <= 0xFFFF ? 4 : 10)
        let start = self.maxHeaderSize - headerSize
        buffer.setInteger(0x80 | opcode, at: start)  // FIN + opcode
        switch headerSize {
        case 2:
            buffer.setInteger(UInt8(length), at: start + 1)
        case 4:
            buffer.setInteger(UInt8(126), at: start + 1)
            buffer.setInteger(UInt16(length), at: start + 2)
        default:
            buffer.setInteger(UInt8(127), at: start + 1)
            buffer.setInteger(UInt64(length), at: start + 2)
        }
        buffer.moveReaderIndex(to: start)
        return buffer
    }

    /// A control frame (close, ping, pong); `payload` must be at most 125 bytes.
    package static func controlFrame(opcode: UInt8, payload: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        self.frame(opcode: opcode, allocator: allocator, capacity: payload.readableBytes) { buffer in
            buffer.writeImmutableBuffer(payload)
        }
    }

    package static func closeFrame(code: UInt16, reason: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        self.frame(opcode: 0x8, allocator: allocator, capacity: 2 + reason.utf8.count) { buffer in
            buffer.writeInteger(code)
            // A control payload is at most 125 bytes: keep the reason short, on a character boundary.
            var reasonBytes = 0
            for character in reason {
                let size = character.utf8.count
                guard reasonBytes + size <= 123 else { break }
                buffer.writeString(String(character))
                reasonBytes += size
            }
        }
    }
}
