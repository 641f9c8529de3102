public import ChorusCore
import Foundation
public import NIOCore

/// An event as a publisher hands it to ``EventBus/publish(_:)``, before validation.
public struct EventPublish: Sendable {
    /// What happened: a topic name without wildcards (`order.created`).
    public var type: String
    /// One JSON value's bytes.
    public var data: ByteBuffer
    /// The idempotency key; nil: the bus makes one.
    public var eventID: String?
    /// Carried to consumers, never interpreted.
    public var correlationID: String?
    /// Events with one key reach an ordered consumer in order.
    public var partitionKey: String?
    /// Forwarded to consumers.
    public var headers: [String: String]

    /// An event to publish.
    public init(type: String, data: ByteBuffer, eventID: String? = nil, correlationID: String? = nil, partitionKey: String? = nil, headers: [String: String] = [:]) {
        self.type = type
        self.data = data
        self.eventID = eventID
        self.correlationID = correlationID
        self.partitionKey = partitionKey
        self.headers = headers
    }

    /// The bounds of what a publisher gives (docs/event-bus.md, "Publishing").
    enum Limits {
        static let maxEventID = 128
        static let maxCorrelationID = 128
        static let maxPartitionKey = 256
        static let maxHeaders = 32
        static let maxHeaderName = 128
        static let maxHeaderValue = 1_024
    }

    /// The event to append, at `now`; `bad_request` or `too_large` naming the field that is wrong.
    func validated(maxDataSize: Int, now: Int64) throws(ProtocolError) -> Event {
        do {
            let topic = try Topic(self.type)
            _ = topic
        } catch {
            throw ProtocolError(.badRequest, "invalid event type \(ProtocolError.quoted(self.type)): \(error.description) (an event type is a topic name, such as order.created)")
        }
        guard self.data.readableBytes <= maxDataSize else {
            throw ProtocolError(.tooLarge, "'data' is \(self.data.readableBytes) bytes, over events_max_data_size (\(maxDataSize))")
        }
        do {
            _ = try RawJSON(validating: self.data)
        } catch {
            throw ProtocolError(.badRequest, "'data' is not one JSON value: \(error.description)")
        }
        try Self.check(self.eventID, "event_id", max: Limits.maxEventID)
        try Self.check(self.correlationID, "correlation_id", max: Limits.maxCorrelationID)
        try Self.check(self.partitionKey, "partition_key", max: Limits.maxPartitionKey)
        guard self.headers.count <= Limits.maxHeaders else {
            throw ProtocolError(.badRequest, "at most \(Limits.maxHeaders) headers, not \(self.headers.count)")
        }
        for (name, value) in self.headers {
            guard name.unicodeScalars.count <= Limits.maxHeaderName, value.unicodeScalars.count <= Limits.maxHeaderValue else {
                throw ProtocolError(.badRequest, "a header name is at most \(Limits.maxHeaderName) characters and its value at most \(Limits.maxHeaderValue)")
            }
        }
        return Event(
            eventID: self.eventID ?? "evt_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: ""),
            type: self.type, data: self.data, timestamp: now,
            correlationID: self.correlationID, partitionKey: self.partitionKey, headers: self.headers)
    }

    /// Lengths count characters (Unicode scalars), as the OpenAPI document's `maxLength` does.
    private static func check(_ value: String?, _ field: String, max: Int) throws(ProtocolError) {
        guard let value else { return }
        guard !value.isEmpty, value.unicodeScalars.count <= max else {
            throw ProtocolError(.badRequest, "'\(field)' must be 1 to \(max) characters")
        }
    }
}

/// An event whose `data` fails its type's schema: `invalid_event` (422), with the violations.
public struct EventSchemaViolation: Error, Sendable {
    /// The event type.
    public var type: String
    /// What failed, where (JSON pointers).
    public var violations: [SchemaViolation]

    /// The error, as the HTTP API's error code and message.
    public var protocolError: ProtocolError {
        ProtocolError(.invalidEvent, "'data' does not match the schema of '\(self.type)': " + self.violations.map(\.description).joined(separator: "; "))
    }
}

extension ErrorCode {
    /// An event whose `data` fails its type's JSON Schema: HTTP 422, the body lists the
    /// violations' JSON pointers; over WebSocket, the `error` answering an `event_publish`,
    /// with the same `violations`. Only the bus sends it, so it is not among the hub's
    /// ``ErrorCode/allCases``.
    public static let invalidEvent = ErrorCode(rawValue: "invalid_event")
}
