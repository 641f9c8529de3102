/// A command or connection that failed. Match on ``code``; ``message`` says what happened.
public struct RedisError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The server answered with an error reply (`ERR …`, `WRONGTYPE …`, `NOSCRIPT …`).
        public static let server = Code("server")
        /// No connection is up: the command was not sent.
        public static let notConnected = Code("notConnected")
        /// No reply within the command timeout; the connection was reset.
        public static let timeout = Code("timeout")
        /// The connection closed (or was reset) before the reply came: the command may or may
        /// not have run.
        public static let connectionClosed = Code("connectionClosed")
        /// The client is shutting down and takes no more commands.
        public static let shuttingDown = Code("shuttingDown")
        /// The server sent bytes that are not RESP, or past the parser's limits.
        public static let protocolError = Code("protocolError")
        /// A `redis://` URL that cannot be used.
        public static let invalidURL = Code("invalidURL")
        /// The TLS setup (a CA file that cannot be read).
        public static let tls = Code("tls")

        /// The code's name.
        public var description: String { self.name }
    }

    /// What kind of failure.
    public let code: Code
    /// What happened; for ``Code/server``, the server's message as it sent it.
    public let message: String

    /// An error of `code` saying `message`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// An error reply from the server.
    public static func server(_ message: String) -> RedisError {
        RedisError(.server, message)
    }

    /// The message with its code.
    public var description: String {
        "Redis \(self.code): \(self.message)"
    }

    /// True for an error reply whose message starts with `prefix` (`NOSCRIPT`, `MOVED`).
    public func isServerError(_ prefix: String) -> Bool {
        self.code == .server && self.message.hasPrefix(prefix)
    }
}
