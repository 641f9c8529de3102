/// A failure a bench run reports in words: a bad argument, a refused connection, an unexpected
/// answer from the server. The command line prints the message and exits non-zero.
public struct BenchError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { self.message }
}
