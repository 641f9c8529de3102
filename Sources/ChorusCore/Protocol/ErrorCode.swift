/// The `code` of an `error` frame and of an HTTP API error body (protocol v1).
public enum ErrorCode: String, Sendable, CaseIterable {
    /// The request is malformed or invalid.
    case badRequest = "bad_request"
    /// No valid credential.
    case unauthorized
    /// The credential does not allow this.
    case forbidden
    /// No such thing (e.g. a topic without history).
    case notFound = "not_found"
    /// Over a size limit.
    case tooLarge = "too_large"
    /// Over a rate limit; try again later.
    case rateLimited = "rate_limited"
    /// A frame `type` the hub does not know.
    case unknownType = "unknown_type"
    /// The hub failed (e.g. the history store); the request may be retried.
    case `internal`
    /// The hub is shutting down: try again once reconnected (to this hub or another).
    case unavailable
    /// An HTTP API body that is not JSON (`Content-Type` other than `application/json`).
    case unsupportedMediaType = "unsupported_media_type"

    /// The HTTP status the HTTP API answers with for this code.
    public var httpStatus: Int {
        switch self {
        case .badRequest, .unknownType: 400
        case .unauthorized: 401
        case .forbidden: 403
        case .notFound: 404
        case .tooLarge: 413
        case .unsupportedMediaType: 415
        case .rateLimited: 429
        case .internal: 500
        case .unavailable: 503
        }
    }
}
