/// A client request the hub refuses, carried back to the client as an `error` frame
/// (or an HTTP error body) with the request's `id` when it had one.
public struct ProtocolError: Error, Sendable {
    public var code: ErrorCode
    public var message: String
    /// For `rate_limited`: seconds until trying again may succeed (HTTP `Retry-After`).
    public var retryAfter: Int?

    public init(_ code: ErrorCode, _ message: String, retryAfter: Int? = nil) {
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }
}
