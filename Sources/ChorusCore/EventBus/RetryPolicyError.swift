/// Why a retry policy's settings were refused.
///
/// The cases stay private so new ones can be added without breaking clients.
public struct RetryPolicyError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong, naming the setting.
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
