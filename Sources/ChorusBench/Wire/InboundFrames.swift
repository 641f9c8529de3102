import NIOCore

/// Cuts the bytes of a WebSocket stream into frames, keeping only the tail of a frame that has
/// not fully arrived (as NIO's ByteToMessageDecoder would, without a frame value per message).
struct InboundFrames {
    private var cumulation: ByteBuffer?

    mutating func append(_ buffer: ByteBuffer) {
        if self.cumulation == nil {
            self.cumulation = buffer
        } else {
            self.cumulation!.writeImmutableBuffer(buffer)
        }
    }

    /// Calls `frame` with the header, the buffer and the payload's index for every complete frame;
    /// stops early when `frame` returns false.
    mutating func drain(_ frame: (WebSocketWire.FrameHeader, ByteBuffer, Int) -> Bool) {
        guard var buffer = self.cumulation else { return }
        while let header = WebSocketWire.header(in: buffer, at: buffer.readerIndex),
            buffer.readableBytes >= header.headerLength + header.payloadLength
        {
            // The frame's bytes are still readable while `frame` looks at them (ByteBuffer's
            // getters see only readable bytes).
            let goOn = frame(header, buffer, buffer.readerIndex + header.headerLength)
            buffer.moveReaderIndex(forwardBy: header.headerLength + header.payloadLength)
            guard goOn else { break }
        }
        if buffer.readableBytes == 0 {
            self.cumulation = nil
        } else {
            buffer.discardReadBytes()
            self.cumulation = buffer
        }
    }
}
