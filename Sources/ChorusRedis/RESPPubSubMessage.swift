package import NIOCore

/// Reads a pub/sub message (`message`, `smessage`, `pmessage`: a RESP2 array of bulk strings)
/// straight from the bytes, as slices of the buffer, so a subscriber's messages reach its
/// handler without a ``RESPValue`` array per message. Anything else, valid or not, is left
/// to ``RESPParser``, which reads it the same way or says what is wrong.
package enum RESPPubSubMessage {
    /// What ``read(from:maxBulkLength:)`` found.
    package enum Read: Equatable {
        /// A whole message, consumed from the buffer.
        case message(channel: ByteBuffer, payload: ByteBuffer)
        /// The start of a message whose end has not arrived; nothing consumed.
        case needMoreData
        /// Not a message this reads: for the parser.
        case other
    }

    /// Each kind's array header and first element, and how many bulk strings follow it
    /// (a pattern message has the pattern before the channel).
    private static let kinds: [(prefix: [UInt8], bulks: Int)] = [
        (Array("*3\r\n$7\r\nmessage\r\n".utf8), 2),
        (Array("*3\r\n$8\r\nsmessage\r\n".utf8), 2),
        (Array("*4\r\n$8\r\npmessage\r\n".utf8), 3),
    ]

    /// The message at the buffer's reader index, consumed; or that more bytes are needed, or
    /// that this is not a message (nothing consumed either way).
    package static func read(from buffer: inout ByteBuffer, maxBulkLength: Int) -> Read {
        let view = buffer.readableBytesView
        guard let kind = Self.kinds.first(where: { view.prefix($0.prefix.count).elementsEqual($0.prefix.prefix(view.count)) }) else {
            return .other
        }
        guard view.count >= kind.prefix.count else { return .needMoreData }
        var offset = buffer.readerIndex + kind.prefix.count
        // The last two bulk strings are the channel and the payload.
        var channel: ByteBuffer?
        var payload: ByteBuffer?
        for _ in 0..<kind.bulks {
            switch Self.bulk(in: buffer, at: &offset, maxBulkLength: maxBulkLength) {
            case .bytes(let bytes): (channel, payload) = (payload, bytes)
            case .needMoreData: return .needMoreData
            case .other: return .other
            }
        }
        buffer.moveReaderIndex(to: offset)
        return .message(channel: channel!, payload: payload!)
    }

    private enum Bulk {
        case bytes(ByteBuffer)
        case needMoreData
        case other
    }

    /// The bulk string at `offset`, moving `offset` past it.
    private static func bulk(in buffer: ByteBuffer, at offset: inout Int, maxBulkLength: Int) -> Bulk {
        let end = buffer.writerIndex
        guard offset < end else { return .needMoreData }
        guard buffer.getInteger(at: offset, as: UInt8.self) == UInt8(ascii: "$") else { return .other }
        // A length has at most 20 digits and a sign: its CR is within the next 22 bytes, or
        // the parser is to say what is wrong (as it is for a line feed without a CR).
        let window = buffer.getSlice(at: offset + 1, length: min(22, end - offset - 1))!.readableBytesView
        guard let lineEnd = window.firstIndex(where: { $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") }) else {
            return window.count < 22 ? .needMoreData : .other
        }
        guard window[lineEnd] == UInt8(ascii: "\r") else { return .other }
        guard let lineFeed = buffer.getInteger(at: offset + 1 + (lineEnd - window.startIndex) + 1, as: UInt8.self) else {
            return .needMoreData
        }
        guard lineFeed == UInt8(ascii: "\n") else { return .other }
        let digits = buffer.getSlice(at: offset + 1, length: lineEnd - window.startIndex)!
        guard let length = RESPParser.integer(digits).flatMap({ Int(exactly: $0) }), length >= 0, length <= maxBulkLength else {
            return .other
        }
        let bodyStart = offset + 1 + digits.readableBytes + 2
        guard bodyStart + length + 2 <= end else { return .needMoreData }
        guard buffer.getInteger(at: bodyStart + length, as: UInt16.self) == Self.crlf else { return .other }
        offset = bodyStart + length + 2
        return .bytes(buffer.getSlice(at: bodyStart, length: length)!)
    }

    private static let crlf = UInt16(UInt8(ascii: "\r")) << 8 | UInt16(UInt8(ascii: "\n"))
}
