/// Why the shared store's schema cannot be used by this binary: start-up stops with it.
public struct MigrationError: Error, Sendable, CustomStringConvertible {
    /// What kind of problem; open for new kinds.
    public struct Code: Sendable, Hashable {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// An applied migration's statements differ from this binary's.
        public static let checksumMismatch = Code("checksumMismatch")
        /// The database has migrations this binary does not know (a newer binary applied them).
        public static let databaseNewer = Code("databaseNewer")
        /// The list of migrations itself is wrong (versions not 1, 2, 3, … or a name missing).
        public static let invalidList = Code("invalidList")
    }

    /// What kind of problem it is.
    public let code: Code
    /// What is wrong and what to do about it.
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The message.
    public var description: String { self.message }
}
