/// A configuration value that cannot be used; `message` names the source and the problem.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { self.message }
}
