/// The `code` of an `error` frame and of an HTTP API error body (protocol v1).
public enum ErrorCode: String, Sendable, CaseIterable {
    case badRequest = "bad_request"
    case unauthorized
    case forbidden
    case notFound = "not_found"
    case tooLarge = "too_large"
    case rateLimited = "rate_limited"
    case unknownType = "unknown_type"
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
