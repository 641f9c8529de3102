public import NIOCore

/// The binary WebSocket frame of protocol v1 (docs/protocol.md, "Binary frames"): one version
/// byte, the header's length (big-endian UInt16), the header (a JSON object holding the frame's
/// fields except `data`), then the data as raw bytes to the end of the frame.
///
/// The header is JSON so both directions reuse the text frames' field rules and decoders, and a
/// client needs no second parser; it is small (fields only), so the data is never copied or escaped.
public enum BinaryFrame {
    /// The first byte of every binary frame of protocol v1.
    public static let version: UInt8 = 1
    /// The longest header, in bytes: topics, event names and ids are far shorter.
    public static let maxHeaderLength = 4096
    /// Bytes before the header: the version and the header's length.
    public static let prefixLength = 3

    /// The header and the data of `frame`; a clear `bad_request` when the frame is not one.
    public static func split(_ frame: ByteBuffer) throws(ProtocolError) -> (header: ByteBuffer, data: ByteBuffer) {
        guard let version = frame.getInteger(at: frame.readerIndex, as: UInt8.self) else {
            throw ProtocolError(.badRequest, "binary frame is empty")
        }
        guard version == Self.version else {
            throw ProtocolError(.badRequest, "binary frame version \(version) is not supported (\(Self.version) is); JSON frames go in text frames")
        }
        guard let length = frame.getInteger(at: frame.readerIndex + 1, as: UInt16.self) else {
            throw ProtocolError(.badRequest, "binary frame is truncated: it ends before the header length")
        }
        guard length >= 2, Int(length) <= Self.maxHeaderLength else {
            throw ProtocolError(.badRequest, "binary frame header length is \(length); it must be 2 to \(Self.maxHeaderLength)")
        }
        let available = frame.readableBytes - Self.prefixLength
        guard Int(length) <= available else {
            throw ProtocolError(.badRequest, "binary frame is truncated: its header is \(length) bytes, \(available) follow")
        }
        let header = frame.getSlice(at: frame.readerIndex + Self.prefixLength, length: Int(length))!
        let dataStart = Self.prefixLength + Int(length)
        let data = frame.getSlice(at: frame.readerIndex + dataStart, length: frame.readableBytes - dataStart)!
        return (header, data)
    }

    /// Appends a binary frame: the header `writeHeader` writes (at most ``maxHeaderLength``
    /// bytes), then `data`.
    public static func write(into buffer: inout ByteBuffer, data: ByteBuffer, writeHeader: (inout ByteBuffer) -> Void) {
        buffer.writeInteger(Self.version)
        let lengthIndex = buffer.writerIndex
        buffer.writeInteger(UInt16(0))
        writeHeader(&buffer)
        let length = buffer.writerIndex - lengthIndex - 2
        precondition(length <= Self.maxHeaderLength, "binary frame header of \(length) bytes")
        buffer.setInteger(UInt16(length), at: lengthIndex)
        buffer.writeImmutableBuffer(data)
    }
}
