/// A reply the parser refuses: malformed, or past one of ``RESPParser/Limits``.
public struct RESPParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of refusal.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// Bytes that do not follow RESP.
        public static let malformed = Code("malformed")
        /// A type byte RESP does not define.
        public static let unknownType = Code("unknownType")
        /// A line, bulk string or aggregate past its limit.
        public static let tooLong = Code("tooLong")
        /// Aggregates nested deeper than the limit.
        public static let tooDeep = Code("tooDeep")

        /// The code's name.
        public var description: String { self.name }
    }

    /// What kind of refusal.
    public let code: Code
    /// What was wrong, for logs.
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The message with its code.
    public var description: String {
        "RESP \(self.code): \(self.message)"
    }
}
