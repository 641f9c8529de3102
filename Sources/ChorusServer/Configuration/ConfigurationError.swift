/// A configuration value that cannot be used; `message` names the source and the problem.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, and where it came from.
    public let message: String

    /// An error saying `message`.
    public init(_ message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { self.message }
}
