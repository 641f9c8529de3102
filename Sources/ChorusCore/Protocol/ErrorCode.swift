/// The `code` of an `error` frame and of an HTTP API error body.
///
/// An open set: new codes are additive, so clients and embedders treat a code they do not
/// know as an error they cannot act on specially (its HTTP status is 500).
public struct ErrorCode: RawRepresentable, Hashable, Sendable {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let badRequest = ErrorCode(rawValue: "bad_request")
    public static let unauthorized = ErrorCode(rawValue: "unauthorized")
    public static let forbidden = ErrorCode(rawValue: "forbidden")
    public static let notFound = ErrorCode(rawValue: "not_found")
    public static let tooLarge = ErrorCode(rawValue: "too_large")
    public static let rateLimited = ErrorCode(rawValue: "rate_limited")
    public static let unknownType = ErrorCode(rawValue: "unknown_type")
    public static let `internal` = ErrorCode(rawValue: "internal")
    /// The hub is shutting down: try again once reconnected (to this hub or another).
    public static let unavailable = ErrorCode(rawValue: "unavailable")
    /// An HTTP API body that is not JSON (`Content-Type` other than `application/json`).
    public static let unsupportedMediaType = ErrorCode(rawValue: "unsupported_media_type")

    /// The HTTP status the HTTP API answers with for this code; 500 for a code it does not know.
    public var httpStatus: Int {
        switch self {
        case .badRequest, .unknownType: 400
        case .unauthorized: 401
        case .forbidden: 403
        case .notFound: 404
        case .tooLarge: 413
        case .unsupportedMediaType: 415
        case .rateLimited: 429
        case .unavailable: 503
        default: 500
        }
    }
}

extension ErrorCode: CaseIterable {
    /// The codes this version of the hub sends (metrics count each of them from zero).
    public static let allCases: [ErrorCode] = [
        .badRequest, .unauthorized, .forbidden, .notFound, .tooLarge, .rateLimited, .unknownType, .internal, .unavailable,
        .unsupportedMediaType,
    ]
}
