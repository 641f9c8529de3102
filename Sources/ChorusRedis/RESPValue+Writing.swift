public import NIOCore

extension RESPValue {
    /// Writes the value as a server would send it (RESP3 forms for the RESP3 types), for test
    /// servers and for checking that what the parser reads survives a round trip.
    ///
    /// An error or simple string holding CR or LF cannot be a line: it goes out as a blob
    /// error or a bulk string, which the parser reads back as the same bytes.
    public func write(into buffer: inout ByteBuffer) {
        switch self {
        case .simpleString(let bytes):
            if bytes.readableBytesView.contains(where: Self.isLineBreak) {
                Self.writeBlob(UInt8(ascii: "$"), bytes, into: &buffer)
            } else {
                Self.writeLine(UInt8(ascii: "+"), bytes, into: &buffer)
            }
        case .error(let bytes):
            if bytes.readableBytesView.contains(where: Self.isLineBreak) {
                Self.writeBlob(UInt8(ascii: "!"), bytes, into: &buffer)
            } else {
                Self.writeLine(UInt8(ascii: "-"), bytes, into: &buffer)
            }
        case .integer(let value):
            Self.writeHeader(UInt8(ascii: ":"), String(value), into: &buffer)
        case .bulkString(let bytes):
            Self.writeBlob(UInt8(ascii: "$"), bytes, into: &buffer)
        case .null:
            buffer.writeStaticString("_\r\n")
        case .array(let elements):
            Self.writeAggregate(UInt8(ascii: "*"), elements, into: &buffer)
        case .double(let value):
            Self.writeHeader(UInt8(ascii: ","), String(value), into: &buffer)
        case .boolean(let value):
            buffer.writeStaticString(value ? "#t\r\n" : "#f\r\n")
        case .map(let pairs):
            Self.writeHeader(UInt8(ascii: "%"), String(pairs.count), into: &buffer)
            for pair in pairs {
                pair.key.write(into: &buffer)
                pair.value.write(into: &buffer)
            }
        case .set(let elements):
            Self.writeAggregate(UInt8(ascii: "~"), elements, into: &buffer)
        case .push(let elements):
            Self.writeAggregate(UInt8(ascii: ">"), elements, into: &buffer)
        case .verbatim(let format, let text):
            Self.writeHeader(UInt8(ascii: "="), String(format.readableBytes + 1 + text.readableBytes), into: &buffer)
            buffer.writeImmutableBuffer(format)
            buffer.writeInteger(UInt8(ascii: ":"))
            buffer.writeImmutableBuffer(text)
            buffer.writeStaticString("\r\n")
        case .bigNumber(let digits):
            Self.writeLine(UInt8(ascii: "("), digits, into: &buffer)
        }
    }

    private static func isLineBreak(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n")
    }

    private static func writeHeader(_ type: UInt8, _ text: String, into buffer: inout ByteBuffer) {
        buffer.writeInteger(type)
        buffer.writeString(text)
        buffer.writeStaticString("\r\n")
    }

    private static func writeLine(_ type: UInt8, _ bytes: ByteBuffer, into buffer: inout ByteBuffer) {
        buffer.writeInteger(type)
        buffer.writeImmutableBuffer(bytes)
        buffer.writeStaticString("\r\n")
    }

    private static func writeBlob(_ type: UInt8, _ bytes: ByteBuffer, into buffer: inout ByteBuffer) {
        self.writeHeader(type, String(bytes.readableBytes), into: &buffer)
        buffer.writeImmutableBuffer(bytes)
        buffer.writeStaticString("\r\n")
    }

    private static func writeAggregate(_ type: UInt8, _ elements: [RESPValue], into buffer: inout ByteBuffer) {
        self.writeHeader(type, String(elements.count), into: &buffer)
        for element in elements {
            element.write(into: &buffer)
        }
    }
}
