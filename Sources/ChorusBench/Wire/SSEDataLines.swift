public import NIOCore

/// Finds the `data:` lines of an event stream as its bytes arrive, split anywhere. Each event the
/// benchmarks publish has exactly one `data:` line, so a line is a delivery. Chunk-size lines of
/// a chunked body and comments (`: ping`) are lines that do not start with `data:`, and so pass.
public struct SSEDataLines {
    private var partialLine: ByteBuffer?
    private static let prefix: [UInt8] = Array("data:".utf8)

    public init() {}

    /// Calls `line` with the buffer, index and length of each complete `data:` line's value.
    public mutating func scan(_ buffer: ByteBuffer, line: (ByteBuffer, Int, Int) -> Void) {
        var rest = buffer
        while let end = rest.withUnsafeReadableBytes({ $0.firstIndex(of: UInt8(ascii: "\n")) }) {
            if var partial = self.partialLine {
                self.partialLine = nil
                partial.writeImmutableBuffer(rest.readSlice(length: end + 1)!)
                Self.emitIfData(partial, from: partial.readerIndex, length: partial.readableBytes - 1, line)
            } else {
                Self.emitIfData(rest, from: rest.readerIndex, length: end, line)
                rest.moveReaderIndex(forwardBy: end + 1)
            }
        }
        if rest.readableBytes > 0 {
            if self.partialLine == nil {
                self.partialLine = rest
            } else {
                self.partialLine!.writeImmutableBuffer(rest)
            }
        }
    }

    private static func emitIfData(_ buffer: ByteBuffer, from index: Int, length: Int, _ line: (ByteBuffer, Int, Int) -> Void) {
        guard length >= Self.prefix.count,
            buffer.withUnsafeReadableBytes({ bytes in
                let offset = index - buffer.readerIndex
                return Self.prefix.indices.allSatisfy { bytes[offset + $0] == Self.prefix[$0] }
            })
        else { return }
        line(buffer, index + Self.prefix.count, length - Self.prefix.count)
    }
}
