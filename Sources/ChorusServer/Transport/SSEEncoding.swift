import NIOCore

/// Builds Server-Sent Events, each already framed as one HTTP/1.1 chunk, so an event is
/// encoded once and its bytes written to every stream.
enum SSEEncoding {
    /// Room for the chunk-size line (up to 8 hex digits + CRLF), filled in once the size is known.
    private static let chunkHeaderRoom = 10

    /// `id: …\nevent: …\ndata: <json>\n\n` in one chunk; `payload` writes the JSON, whose
    /// line breaks (only ever whitespace between tokens in valid JSON) become spaces, since a
    /// line break would end the `data:` field.
    static func event(id: String?, name: String, allocator: ByteBufferAllocator, capacity: Int, payload: (inout ByteBuffer) -> Void) -> ByteBuffer {
        self.chunk(allocator: allocator, capacity: capacity) { buffer in
            if let id {
                buffer.writeStaticString("id: ")
                self.writeFieldValue(id, into: &buffer)
                buffer.writeStaticString("\n")
            }
            buffer.writeStaticString("event: ")
            self.writeFieldValue(name, into: &buffer)
            buffer.writeStaticString("\ndata: ")
            let dataStart = buffer.writerIndex
            payload(&buffer)
            let dataOffset = dataStart - buffer.readerIndex
            buffer.withUnsafeMutableReadableBytes { bytes in
                for index in dataOffset..<bytes.count where bytes[index] == 0x0A || bytes[index] == 0x0D {
                    bytes[index] = 0x20
                }
            }
            buffer.writeStaticString("\n\n")
        }
    }

    /// A comment line (`: ping`), which keeps proxies and the browser from timing out.
    static func comment(_ text: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        self.chunk(allocator: allocator, capacity: text.utf8.count + 4) { buffer in
            buffer.writeStaticString(": ")
            self.writeFieldValue(text, into: &buffer)
            buffer.writeStaticString("\n\n")
        }
    }

    /// The chunk that ends a chunked body.
    static func lastChunk(allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 5)
        buffer.writeStaticString("0\r\n\r\n")
        return buffer
    }

    private static func chunk(allocator: ByteBufferAllocator, capacity: Int, body: (inout ByteBuffer) -> Void) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: capacity + self.chunkHeaderRoom + 2)
        buffer.moveWriterIndex(forwardBy: self.chunkHeaderRoom)
        buffer.moveReaderIndex(forwardBy: self.chunkHeaderRoom)
        body(&buffer)
        let header = String(buffer.readableBytes, radix: 16) + "\r\n"
        let start = self.chunkHeaderRoom - header.utf8.count
        buffer.setString(header, at: start)
        buffer.moveReaderIndex(to: start)
        buffer.writeStaticString("\r\n")
        return buffer
    }

    /// Field values cannot hold line breaks; they would start a new field.
    private static func writeFieldValue(_ value: String, into buffer: inout ByteBuffer) {
        for byte in value.utf8 {
            buffer.writeInteger(byte == 0x0A || byte == 0x0D ? 0x20 : byte)
        }
    }
}
