package import NIOCore
package import NIOWebSocket

/// RFC 6455 §5.2 framing on the receiving side: bytes in, frames out. Pure, so it is tested
/// without I/O; the connection handlers feed it what the socket reads.
///
/// It replaces a `ByteToMessageHandler(WebSocketFrameDecoder)` in the pipeline: that handler
/// and its context cost every idle connection about 300 bytes, where this holds nothing
/// between frames.
package struct WebSocketFrameParser {
    package enum Failure: Error, Equatable {
        /// A frame longer than `maxFrameSize` (close 1009), refused before its payload is read.
        case tooLarge
        /// A framing violation (close 1002).
        case protocolViolation(String)
    }

    /// May change between frames (a connection reads larger frames once authenticated).
    package var maxFrameSize: Int
    /// Bytes of a frame not yet complete; nil between frames.
    private var pending: ByteBuffer?

    package init(maxFrameSize: Int) {
        self.maxFrameSize = maxFrameSize
    }

    /// Adds what the socket read.
    package mutating func append(_ bytes: ByteBuffer) {
        if self.pending == nil {
            self.pending = bytes
        } else {
            self.pending!.writeImmutableBuffer(bytes)
        }
    }

    /// The next complete frame, or nil until more bytes arrive.
    package mutating func next() throws(Failure) -> WebSocketFrame? {
        guard var buffer = self.pending else { return nil }
        self.pending = nil
        defer { self.pending = buffer.readableBytes > 0 ? buffer : nil }
        let start = buffer.readerIndex
        guard let first = buffer.getInteger(at: start, as: UInt8.self),
            let second = buffer.getInteger(at: start + 1, as: UInt8.self)
        else { return nil }
        var headerSize = 2
        var length = Int(second & 0x7F)
        if length == 126 {
            guard let word = buffer.getInteger(at: start + 2, as: UInt16.self) else { return nil }
            length = Int(word)
            headerSize = 4
        } else if length == 127 {
            guard let quad = buffer.getInteger(at: start + 2, as: UInt64.self) else { return nil }
            guard quad <= UInt64(self.maxFrameSize) else { throw .tooLarge }
            length = Int(quad)
            headerSize = 10
        }
        guard length <= self.maxFrameSize else { throw .tooLarge }
        if first & 0x08 != 0 {
            guard first & 0x80 != 0 else { throw .protocolViolation("fragmented control frame") }
            guard length <= 125 else { throw .protocolViolation("control frame longer than 125 bytes") }
        }
        let masked = second & 0x80 != 0
        if masked { headerSize += 4 }
        guard buffer.readableBytes >= headerSize + length else { return nil }
        let maskKey = masked ? buffer.viewBytes(at: start + headerSize - 4, length: 4).flatMap { WebSocketMaskingKey($0) } : nil
        buffer.moveReaderIndex(forwardBy: headerSize)
        return WebSocketFrame(
            fin: first & 0x80 != 0,
            rsv1: first & 0x40 != 0,
            rsv2: first & 0x20 != 0,
            rsv3: first & 0x10 != 0,
            opcode: WebSocketOpcode(encodedWebSocketOpcode: first & 0x0F)!,
            maskKey: maskKey,
            data: buffer.readSlice(length: length)!
        )
    }
}
