public import NIOCore

/// Reads RESP2 and RESP3 replies from a buffer that fills as bytes arrive.
///
/// ``next(from:)`` returns the next whole reply, or nil when more bytes are needed. It keeps
/// its place across calls: finished elements of a partial aggregate are consumed from the
/// buffer and kept here, and a line's bytes already searched for its CRLF are not searched
/// again, so a reply that arrives a byte at a time costs time linear in its size. Nesting is
/// an explicit stack, never recursion. Input from a hostile server is bounded by ``Limits``;
/// after a thrown error the stream is out of step and the connection must be closed.
public struct RESPParser: Sendable {
    /// Bounds on what one reply may declare, each checked before anything is kept for it.
    public struct Limits: Sendable, Hashable {
        /// Aggregates inside aggregates (an array of arrays is depth 2). Default 32: Redis
        /// replies nest a few levels (`XREAD` is 4 deep).
        public var maxDepth: Int
        /// Bytes of one bulk string, blob error or verbatim string. Default 512 MiB, Redis's
        /// own `proto-max-bulk-len`.
        public var maxBulkLength: Int
        /// Elements of one aggregate (pairs of a map). Default 16,777,216: elements are kept
        /// only as they arrive, so a large count costs nothing until the bytes come.
        public var maxAggregateCount: Int
        /// Bytes of one line (simple string, error, number, header). Default 65,536.
        public var maxLineLength: Int

        /// The limits, each with its default unless given.
        public init(maxDepth: Int = 32, maxBulkLength: Int = 512 << 20, maxAggregateCount: Int = 1 << 24, maxLineLength: Int = 1 << 16) {
            self.maxDepth = maxDepth
            self.maxBulkLength = maxBulkLength
            self.maxAggregateCount = maxAggregateCount
            self.maxLineLength = maxLineLength
        }
    }

    private enum AggregateKind {
        case array, map, set, push, attribute
    }

    /// An aggregate whose elements are still arriving.
    private struct Frame {
        var kind: AggregateKind
        var remaining: Int
        var elements: [RESPValue] = []
    }

    /// What one step read: a whole value, or the header of an aggregate.
    private enum Item {
        case value(RESPValue)
        case aggregate(AggregateKind, count: Int)
    }

    /// The limits this parser enforces.
    public let limits: Limits
    private var stack: [Frame] = []
    /// Bytes after the type byte of the line at the reader index already searched for CR.
    private var searched = 0

    /// A parser with `limits`.
    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// The next whole reply at the buffer's reader index, consuming its bytes; nil when the
    /// buffer ends before the reply does (call again with the same buffer once more bytes
    /// are appended to it).
    public mutating func next(from buffer: inout ByteBuffer) throws(RESPParseError) -> RESPValue? {
        while let item = try self.readItem(from: &buffer) {
            var completed: RESPValue?
            switch item {
            case .value(let read):
                completed = read
            case .aggregate(let kind, let count):
                guard self.stack.count < self.limits.maxDepth else {
                    throw RESPParseError(.tooDeep, "more than \(self.limits.maxDepth) nested aggregates")
                }
                self.stack.append(Frame(kind: kind, remaining: count))
                if count == 0 {
                    completed = self.finishTop()
                }
            }
            // Hand the value to the aggregates it completes, innermost first.
            while let value = completed {
                guard !self.stack.isEmpty else { return value }
                let top = self.stack.count - 1
                self.stack[top].elements.append(value)
                self.stack[top].remaining -= 1
                completed = self.stack[top].remaining == 0 ? self.finishTop() : nil
            }
        }
        return nil
    }

    /// Pops the finished aggregate on top; nil for an attribute, which annotates the value
    /// after it and is dropped (nothing Chorus sends asks for attributes).
    private mutating func finishTop() -> RESPValue? {
        let frame = self.stack.removeLast()
        switch frame.kind {
        case .array: return .array(frame.elements)
        case .set: return .set(frame.elements)
        case .push: return .push(frame.elements)
        case .attribute: return nil
        case .map:
            var pairs: [RESPPair] = []
            pairs.reserveCapacity(frame.elements.count / 2)
            var index = frame.elements.startIndex
            while index < frame.elements.endIndex {
                pairs.append(RESPPair(key: frame.elements[index], value: frame.elements[index + 1]))
                index += 2
            }
            return .map(pairs)
        }
    }

    private mutating func readItem(from buffer: inout ByteBuffer) throws(RESPParseError) -> Item? {
        guard let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
            let lineLength = try self.findLine(in: buffer)
        else { return nil }
        let line = buffer.getSlice(at: buffer.readerIndex + 1, length: lineLength)!
        let lineEnd = 1 + lineLength + 2

        switch type {
        case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
            let length = try self.length(line, allowsNull: type == UInt8(ascii: "$"), limit: self.limits.maxBulkLength, what: "bulk length")
            guard length >= 0 else {
                self.consume(lineEnd, of: &buffer)
                return .value(.null)
            }
            guard buffer.readableBytes >= lineEnd + length + 2 else {
                self.searched = 0  // the header is read again, a few bytes, once the body is here
                return nil
            }
            guard buffer.getInteger(at: buffer.readerIndex + lineEnd + length, as: UInt16.self) == Self.crlf else {
                throw RESPParseError(.malformed, "a bulk string of \(length) bytes is not followed by CRLF")
            }
            let body = buffer.getSlice(at: buffer.readerIndex + lineEnd, length: length)!
            self.consume(lineEnd + length + 2, of: &buffer)
            switch type {
            case UInt8(ascii: "$"): return .value(.bulkString(body))
            case UInt8(ascii: "!"): return .value(.error(body))
            default:
                guard length >= 4, body.getInteger(at: body.readerIndex + 3, as: UInt8.self) == UInt8(ascii: ":") else {
                    throw RESPParseError(.malformed, "a verbatim string does not start with a format and ':'")
                }
                return .value(.verbatim(format: body.getSlice(at: body.readerIndex, length: 3)!, text: body.getSlice(at: body.readerIndex + 4, length: length - 4)!))
            }

        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: "%"), UInt8(ascii: ">"), UInt8(ascii: "|"):
            let count = try self.length(line, allowsNull: type == UInt8(ascii: "*"), limit: self.limits.maxAggregateCount, what: "aggregate count")
            self.consume(lineEnd, of: &buffer)
            switch type {
            case _ where count < 0: return .value(.null)
            case UInt8(ascii: "*"): return .aggregate(.array, count: count)
            case UInt8(ascii: "~"): return .aggregate(.set, count: count)
            case UInt8(ascii: ">"): return .aggregate(.push, count: count)
            case UInt8(ascii: "%"): return .aggregate(.map, count: count * 2)
            default: return .aggregate(.attribute, count: count * 2)
            }

        default:
            let value = try Self.lineValue(type: type, line)
            self.consume(lineEnd, of: &buffer)
            return .value(value)
        }
    }

    private static let crlf = UInt16(UInt8(ascii: "\r")) << 8 | UInt16(UInt8(ascii: "\n"))

    private mutating func consume(_ count: Int, of buffer: inout ByteBuffer) {
        buffer.moveReaderIndex(forwardBy: count)
        self.searched = 0
    }

    /// The length of the line after the type byte at the reader index, once its CRLF is in
    /// the buffer. Resumes the search where the last call stopped.
    private mutating func findLine(in buffer: ByteBuffer) throws(RESPParseError) -> Int? {
        let contentStart = buffer.readerIndex + 1
        let available = buffer.readableBytes - 1
        let found: Int? = buffer.withUnsafeReadableBytes { bytes in
            let content = bytes[(1 + self.searched)...]
            return content.firstIndex { $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") }.map { $0 - 1 }
        }
        guard let end = found else {
            self.searched = available
            guard available <= self.limits.maxLineLength else {
                throw RESPParseError(.tooLong, "a line longer than \(self.limits.maxLineLength) bytes")
            }
            return nil
        }
        guard end <= self.limits.maxLineLength else {
            throw RESPParseError(.tooLong, "a line longer than \(self.limits.maxLineLength) bytes")
        }
        guard buffer.getInteger(at: contentStart + end, as: UInt8.self) == UInt8(ascii: "\r") else {
            throw RESPParseError(.malformed, "a line feed without a carriage return before it")
        }
        guard let next = buffer.getInteger(at: contentStart + end + 1, as: UInt8.self) else {
            self.searched = end  // the CR is found again next time, with the byte after it
            return nil
        }
        guard next == UInt8(ascii: "\n") else {
            throw RESPParseError(.malformed, "a carriage return without a line feed after it")
        }
        return end
    }

    /// A bulk length or aggregate count: -1 for null where `allowsNull`, else 0 up to `limit`.
    private func length(_ line: ByteBuffer, allowsNull: Bool, limit: Int, what: String) throws(RESPParseError) -> Int {
        guard let value = Self.integer(line) else {
            throw RESPParseError(.malformed, "the \(what) '\(String(buffer: line))' is not a number")
        }
        if value == -1 && allowsNull {
            return -1
        }
        guard value >= 0 else {
            throw RESPParseError(.malformed, "a negative \(what) (\(value))")
        }
        guard value <= limit else {
            throw RESPParseError(.tooLong, "a \(what) of \(value), more than the limit of \(limit)")
        }
        return Int(value)
    }

    private static func lineValue(type: UInt8, _ line: ByteBuffer) throws(RESPParseError) -> RESPValue {
        switch type {
        case UInt8(ascii: "+"):
            return .simpleString(line)
        case UInt8(ascii: "-"):
            return .error(line)
        case UInt8(ascii: ":"):
            guard let value = self.integer(line) else {
                throw RESPParseError(.malformed, "the integer '\(String(buffer: line))' is not a 64-bit number")
            }
            return .integer(value)
        case UInt8(ascii: "_"):
            guard line.readableBytes == 0 else {
                throw RESPParseError(.malformed, "a null with content")
            }
            return .null
        case UInt8(ascii: "#"):
            switch line.getInteger(at: line.readerIndex, as: UInt8.self) {
            case UInt8(ascii: "t") where line.readableBytes == 1: return .boolean(true)
            case UInt8(ascii: "f") where line.readableBytes == 1: return .boolean(false)
            default: throw RESPParseError(.malformed, "the boolean '\(String(buffer: line))' is not t or f")
            }
        case UInt8(ascii: ","):
            guard let value = Double(String(buffer: line)) else {
                throw RESPParseError(.malformed, "the double '\(String(buffer: line))' is not a number")
            }
            return .double(value)
        case UInt8(ascii: "("):
            let digits = line.readableBytesView.drop { $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "+") }
            guard line.readableBytes - digits.count <= 1, !digits.isEmpty, digits.allSatisfy(Self.isDigit) else {
                throw RESPParseError(.malformed, "the big number '\(String(buffer: line))' is not a number")
            }
            return .bigNumber(line)
        default:
            throw RESPParseError(.unknownType, "unknown type byte 0x\(String(type, radix: 16))")
        }
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// A decimal Int64 with an optional sign, or nil (empty, other bytes, overflow).
    static func integer(_ line: ByteBuffer) -> Int64? {
        var bytes = line.readableBytesView[...]
        let negative = bytes.first == UInt8(ascii: "-")
        if negative || bytes.first == UInt8(ascii: "+") {
            bytes = bytes.dropFirst()
        }
        guard !bytes.isEmpty else { return nil }
        var value: Int64 = 0
        for byte in bytes {
            guard self.isDigit(byte) else { return nil }
            let digit = Int64(byte - UInt8(ascii: "0"))
            let (shifted, overflowA) = value.multipliedReportingOverflow(by: 10)
            let (next, overflowB) = negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
            guard !overflowA, !overflowB else { return nil }
            value = next
        }
        return value
    }
}

extension RESPParser {
    /// True between replies: no partial aggregate kept, no line half searched.
    var isIdle: Bool {
        self.stack.isEmpty && self.searched == 0
    }
}
