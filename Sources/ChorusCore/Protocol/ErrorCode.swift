/// The `code` of an `error` frame and of an HTTP API error body.
///
/// An open set: new codes are additive, so clients and embedders treat a code they do not
/// know as an error they cannot act on specially (its HTTP status is 500).
public struct ErrorCode: RawRepresentable, Hashable, Sendable {
    /// The code as it appears on the wire (`bad_request`).
    public let rawValue: String
    /// A code by its wire name; an unknown one is kept as it is.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// A sync mutation met a record that changed since its `base_version` (or an insert met an
    /// existing id); the error carries the `current` record.
    public static let conflict = ErrorCode(rawValue: "conflict")
    /// Malformed JSON, a wrong field type, a bad topic, a missing field, a pattern to publish to.
    public static let badRequest = ErrorCode(rawValue: "bad_request")
    /// No token, or a token the hub refused (v1.1 says which with `reason`).
    public static let unauthorized = ErrorCode(rawValue: "unauthorized")
    /// Authenticated, but not allowed (token claims, namespace rules).
    public static let forbidden = ErrorCode(rawValue: "forbidden")
    /// No such thing: an unknown endpoint, or a topic whose namespace keeps no history.
    public static let notFound = ErrorCode(rawValue: "not_found")
    /// Over `max_publish_size` (or an HTTP body over its limit).
    public static let tooLarge = ErrorCode(rawValue: "too_large")
    /// Over a rate or count limit; `retryAfter` says when to try again where that is known.
    public static let rateLimited = ErrorCode(rawValue: "rate_limited")
    /// A frame type with no handler.
    public static let unknownType = ErrorCode(rawValue: "unknown_type")
    /// The hub failed (e.g. the history store): not the client's fault.
    public static let `internal` = ErrorCode(rawValue: "internal")
    /// The hub is shutting down: try again once reconnected (to this hub or another).
    public static let unavailable = ErrorCode(rawValue: "unavailable")
    /// An HTTP API body that is not JSON (`Content-Type` other than `application/json`).
    public static let unsupportedMediaType = ErrorCode(rawValue: "unsupported_media_type")
    /// The namespace's WebAssembly transform refused the publish, trapped, ran out of fuel or
    /// memory, or handed back data that is not JSON; the message says which (docs/wasm.md).
    public static let transformFailed = ErrorCode(rawValue: "transform_failed")

    /// The HTTP status the HTTP API answers with for this code; 500 for a code it does not know.
    public var httpStatus: Int {
        switch self {
        case .badRequest, .unknownType: 400
        case .unauthorized: 401
        case .forbidden: 403
        case .notFound: 404
        case .conflict: 409
        case .tooLarge: 413
        case .unsupportedMediaType: 415
        case .transformFailed: 422
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
        .unsupportedMediaType, .transformFailed, .conflict,
    ]
}
