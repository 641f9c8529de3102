/// Why a configured key cannot be used; the message names what is wrong with it.
public struct KeyError: Error, Sendable, CustomStringConvertible {
    /// What is wrong with the key.
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
