public import NIOCore

/// One reply (or part of one) from a Redis server: every RESP2 and RESP3 type.
///
/// Strings stay `ByteBuffer` slices of the bytes read (no copy); the accessors below convert
/// on demand. Error replies are values here; ``RedisClient/send(_:)-(RESPCommand)`` turns a
/// top-level one into a thrown ``RedisError`` with the code ``RedisError/Code/server``.
public enum RESPValue: Sendable, Hashable {
    /// `+OK`: a short text without CR or LF.
    case simpleString(ByteBuffer)
    /// `-ERR …` (RESP2) or `!<length>` (RESP3 blob error): the server's message.
    case error(ByteBuffer)
    /// `:42`.
    case integer(Int64)
    /// `$<length>`: binary-safe bytes.
    case bulkString(ByteBuffer)
    /// `$-1` and `*-1` (RESP2) or `_` (RESP3).
    case null
    /// `*<count>`.
    case array([RESPValue])
    /// `,3.14` (RESP3), `inf`, `-inf` and `nan` included.
    case double(Double)
    /// `#t` or `#f` (RESP3).
    case boolean(Bool)
    /// `%<count>` (RESP3): key-value pairs in the order the server sent them.
    case map([RESPPair])
    /// `~<count>` (RESP3).
    case set([RESPValue])
    /// `><count>` (RESP3): out-of-band data such as pub/sub messages.
    case push([RESPValue])
    /// `=<length>` (RESP3): text with its three-byte format (`txt`, `mkd`).
    case verbatim(format: ByteBuffer, text: ByteBuffer)
    /// `(<digits>` (RESP3): an integer of any size, as its decimal digits (with an optional sign).
    case bigNumber(ByteBuffer)
}

/// One entry of a RESP3 map.
public struct RESPPair: Sendable, Hashable {
    /// The entry's key.
    public var key: RESPValue
    /// The entry's value.
    public var value: RESPValue

    /// An entry of `key` and `value`.
    public init(key: RESPValue, value: RESPValue) {
        self.key = key
        self.value = value
    }
}

extension RESPValue {
    /// The bytes of a simple string, bulk string or verbatim text; nil for other types.
    public var buffer: ByteBuffer? {
        switch self {
        case .simpleString(let bytes), .bulkString(let bytes), .verbatim(_, let bytes): bytes
        default: nil
        }
    }

    /// ``buffer`` as UTF-8 text (invalid bytes repaired); nil for other types.
    public var string: String? {
        self.buffer.map { String(buffer: $0) }
    }

    /// An integer reply, or a string reply that holds a decimal integer (`GET` of a counter).
    public var int: Int? {
        switch self {
        case .integer(let value): Int(exactly: value)
        case .simpleString(let bytes), .bulkString(let bytes): Int(String(buffer: bytes))
        default: nil
        }
    }

    /// The elements of an array, set or push; nil for other types.
    public var array: [RESPValue]? {
        switch self {
        case .array(let elements), .set(let elements), .push(let elements): elements
        default: nil
        }
    }

    /// The message of an error reply; nil for other types.
    public var errorMessage: String? {
        if case .error(let message) = self { String(buffer: message) } else { nil }
    }

    /// True for the null reply.
    public var isNull: Bool {
        self == .null
    }
}

extension RESPValue: CustomStringConvertible {
    /// A readable form for logs and test failures.
    public var description: String {
        switch self {
        case .simpleString(let bytes): "+\(String(buffer: bytes))"
        case .error(let bytes): "-\(String(buffer: bytes))"
        case .integer(let value): ":\(value)"
        case .bulkString(let bytes): "$\(String(reflecting: String(buffer: bytes)))"
        case .null: "null"
        case .array(let elements): "[\(elements.map(\.description).joined(separator: ", "))]"
        case .double(let value): ",\(value)"
        case .boolean(let value): "#\(value)"
        case .map(let pairs): "{\(pairs.map { "\($0.key): \($0.value)" }.joined(separator: ", "))}"
        case .set(let elements): "~[\(elements.map(\.description).joined(separator: ", "))]"
        case .push(let elements): ">[\(elements.map(\.description).joined(separator: ", "))]"
        case .verbatim(let format, let text): "=\(String(buffer: format)):\(String(buffer: text))"
        case .bigNumber(let digits): "(\(String(buffer: digits))"
        }
    }
}
