/// Why a Web Push message could not be built: bad subscriber keys, a payload too large, a bad
/// VAPID key or claim. The message says which, for an API error or the log.
public struct WebPushError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, naming the field or option.
    public let description: String

    /// An error saying `description`.
    public init(_ description: String) {
        self.description = description
    }
}
