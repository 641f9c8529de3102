public import NIOCore

/// One argument of a command: bytes, text or a decimal integer.
public enum RESPArgument: Sendable, Hashable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    /// Bytes sent as they are.
    case bytes(ByteBuffer)
    /// Text sent as UTF-8.
    case string(String)
    /// An integer sent in decimal, as Redis reads numbers.
    case integer(Int)

    /// A string literal argument.
    public init(stringLiteral value: String) {
        self = .string(value)
    }

    /// An integer literal argument.
    public init(integerLiteral value: Int) {
        self = .integer(value)
    }

    fileprivate var estimatedLength: Int {
        switch self {
        case .bytes(let bytes): bytes.readableBytes
        case .string(let text): text.utf8.count
        case .integer: 20
        }
    }

    fileprivate func write(into buffer: inout ByteBuffer) {
        switch self {
        case .bytes(let bytes):
            RESPCommand.writeHeader(UInt8(ascii: "$"), bytes.readableBytes, into: &buffer)
            buffer.writeImmutableBuffer(bytes)
        case .string(let text):
            RESPCommand.writeHeader(UInt8(ascii: "$"), text.utf8.count, into: &buffer)
            buffer.writeString(text)
        case .integer(let value):
            let text = String(value)
            RESPCommand.writeHeader(UInt8(ascii: "$"), text.utf8.count, into: &buffer)
            buffer.writeString(text)
        }
        buffer.writeStaticString("\r\n")
    }
}

/// A command encoded once, when made, as the array of bulk strings Redis reads; sending it
/// (or sending it again) writes these bytes as they are.
public struct RESPCommand: Sendable, Hashable, CustomStringConvertible {
    /// The command's name, as given (for errors and logs).
    public let name: String
    /// The encoded command.
    public let bytes: ByteBuffer

    /// `name` with `arguments`, encoded.
    public init(_ name: String, _ arguments: [RESPArgument]) {
        self.name = name
        let length = arguments.reduce(name.utf8.count + 32) { $0 + $1.estimatedLength + 16 }
        var buffer = ByteBufferAllocator().buffer(capacity: length)
        Self.writeHeader(UInt8(ascii: "*"), arguments.count + 1, into: &buffer)
        RESPArgument.string(name).write(into: &buffer)
        for argument in arguments {
            argument.write(into: &buffer)
        }
        self.bytes = buffer
    }

    /// `name` with `arguments`, encoded.
    public init(_ name: String, _ arguments: RESPArgument...) {
        self.init(name, arguments)
    }

    /// The command's name.
    public var description: String {
        self.name
    }

    fileprivate static func writeHeader(_ type: UInt8, _ count: Int, into buffer: inout ByteBuffer) {
        buffer.writeInteger(type)
        buffer.writeString(String(count))
        buffer.writeStaticString("\r\n")
    }
}
