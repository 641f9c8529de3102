public import ChorusCore

/// Why a request failed: the hub's `error` frame, or something the client decided itself.
public struct ChorusClientError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure: one of the hub's error codes (`bad_request`, `forbidden`, …) or one
    /// of the client's own below.
    public struct Code: RawRepresentable, Hashable, Sendable {
        /// The code's text.
        public let rawValue: String
        /// A code from its text.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// No reply within the request timeout.
        public static let timeout = Code(rawValue: "timeout")
        /// The connection ended while the request was in flight, or for good.
        public static let disconnected = Code(rawValue: "disconnected")
        /// ``ChorusClient/close()`` was called.
        public static let closed = Code(rawValue: "closed")
        /// A request that cannot be queued was made while offline.
        public static let notConnected = Code(rawValue: "not_connected")
        /// The offline queue is full (policy ``OfflineQueue/OverflowPolicy/reject``).
        public static let queueFull = Code(rawValue: "queue_full")
        /// The publish was dropped from a full queue (policy ``OfflineQueue/OverflowPolicy/dropOldest``).
        public static let queueDropped = Code(rawValue: "queue_dropped")
        /// The reconnection attempts ran out.
        public static let reconnectFailed = Code(rawValue: "reconnect_failed")
        /// The token expired and there is no token provider to renew it.
        public static let tokenExpired = Code(rawValue: "token_expired")
        /// The token provider threw.
        public static let tokenFailed = Code(rawValue: "token_failed")
        /// A URL that is not `ws://`, `wss://`, `http://` or `https://`, or that has no host.
        public static let badURL = Code(rawValue: "bad_url")
        /// A value that is not JSON, or a hub frame that is not a valid frame.
        public static let invalidJSON = Code(rawValue: "invalid_frame")
        /// The hub did not upgrade the connection to WebSocket.
        public static let upgradeFailed = Code(rawValue: "upgrade_failed")
        /// A persisted queue could not be read or written.
        public static let storage = Code(rawValue: "storage")
        /// A sync mutation met a newer record (or an insert an existing id): ``ChorusClientError/current``
        /// holds the record as the hub has it.
        public static let conflict = Code(ErrorCode.conflict)
        /// The hub's `not_found`: a `signal` to a client that is not present with this one, a
        /// sync update of a missing record, a presence update while not present.
        public static let notFound = Code(ErrorCode.notFound)
        /// An `event_publish` whose data fails its type's schema: see ``ChorusClientError/violations``.
        public static let invalidEvent = Code(rawValue: "invalid_event")
        /// A presence update before ``ChorusPresence/join(meta:)``, or after ``ChorusPresence/leave()``.
        public static let notJoined = Code(rawValue: "not_joined")

        /// The hub's error code, as a client error code.
        public init(_ code: ErrorCode) { self.rawValue = code.rawValue }
    }

    /// The kind of failure.
    public var code: Code
    /// The text for people.
    public var message: String
    /// The hub's `reason` (v1.1), when it gave one: `token_expired`, `token_required`, …
    public var reason: ReasonCode?
    /// For ``Code/invalidEvent``: where the event's data fails its schema, as the hub listed it.
    public var violations: [SchemaViolation] = []
    /// For ``Code/conflict``: the record as the hub has it (nil: it was deleted).
    public var current: SyncRecord?

    /// An error of `code`.
    public init(_ code: Code, _ message: String, reason: ReasonCode? = nil) {
        self.code = code
        self.message = message
        self.reason = reason
    }

    /// The hub's `error` frame as a client error.
    public init(_ error: ProtocolError) {
        self.init(Code(error.code), error.message, reason: error.reason)
    }

    /// The error an answer carries: an `error` frame, with a conflict's `current` or an invalid
    /// event's `violations`; nil for any other frame.
    init?(reply: ServerFrame) {
        switch reply {
        case .error(let error):
            self.init(error)
        case .syncConflict(let message, let current):
            self.init(.conflict, message)
            self.current = current
        case .custom("error", let fields?):
            guard let object = try? JSONObject(parsing: fields) else { return nil }
            self.init(Code(rawValue: object["code"]?.string ?? "internal"), object["message"]?.string ?? "", reason: object["reason"]?.string.map(ReasonCode.init(rawValue:)))
            self.violations = (object["violations"]?.elements ?? []).compactMap { element in
                guard let fields = try? element.object() else { return nil }
                return SchemaViolation(
                    instanceLocation: fields["instance_location"]?.string ?? "", keywordLocation: fields["keyword_location"]?.string ?? "",
                    message: fields["message"]?.string ?? "")
            }
        default:
            return nil
        }
    }

    /// `code: message`.
    public var description: String {
        "\(self.code.rawValue): \(self.message)"
    }
}
