/// A client request the hub refuses, carried back to the client as an `error` frame
/// (or an HTTP error body) with the request's `id` when it had one.
public struct ProtocolError: Error, Sendable {
    /// The error's code.
    public var code: ErrorCode
    /// What went wrong, in words for the client.
    public var message: String
    /// What the client should act on where `code` alone is ambiguous (protocol v1.1 only).
    public var reason: ReasonCode?
    /// For `rate_limited`: seconds until trying again may succeed (HTTP `Retry-After`).
    public var retryAfter: Int?

    /// An error of `code` saying `message`, with a `reason` where the code alone is ambiguous.
    public init(_ code: ErrorCode, _ message: String, reason: ReasonCode? = nil, retryAfter: Int? = nil) {
        self.code = code
        self.message = message
        self.reason = reason
        self.retryAfter = retryAfter
    }
}

extension ProtocolError {
    /// The most characters of client input an error message quotes: enough to recognise a
    /// topic, without echoing a 10,000-byte one back (or into the logs).
    package static let maxQuotedCharacters = 64

    /// `text` in single quotes, cut to ``maxQuotedCharacters`` with `…` when longer.
    package static func quoted(_ text: some StringProtocol) -> String {
        guard text.count > Self.maxQuotedCharacters else { return "'\(text)'" }
        return "'\(text.prefix(Self.maxQuotedCharacters))…' (\(text.utf8.count) bytes)"
    }
}
