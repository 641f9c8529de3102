/// The fields of an `event_publish` frame: an event a client publishes on the hub's event bus
/// (docs/protocol.md, "Events"). The event's type is `event_type`, since a frame's `type` is
/// the frame's own (`event_publish`); the hub checks the rest as `POST /api/events/publish` does.
public struct EventPublishFrame: Sendable, Equatable {
    /// The event type (`order.created`).
    public var eventType: String
    /// The event's data, one JSON value.
    public var data: RawJSON
    /// The idempotency key: a repeat within the hub's window gets the original's receipt, `duplicate: true`.
    public var eventID: String?
    /// Events with one key reach an ordered consumer in order.
    public var partitionKey: String?
    /// Carried to consumers, never interpreted.
    public var correlationID: String?

    /// An event to publish.
    public init(eventType: String, data: RawJSON, eventID: String? = nil, partitionKey: String? = nil, correlationID: String? = nil) {
        self.eventType = eventType
        self.data = data
        self.eventID = eventID
        self.partitionKey = partitionKey
        self.correlationID = correlationID
    }

    /// The frame's fields from its JSON object: `event_type` and `data` required, the rest
    /// strings when present; unknown fields are refused, so a misspelt `event_id` does not
    /// silently lose idempotency.
    init(_ object: JSONObject) throws(ProtocolError) {
        let known: Set = ["type", "id", "event_type", "data", "event_id", "partition_key", "correlation_id"]
        if let unknown = object.keys.first(where: { !known.contains($0) }) {
            throw ProtocolError(.badRequest, "unknown field '\(unknown)' (event_publish has event_type, data, event_id, partition_key, correlation_id)")
        }
        let eventType = try object.requiredString("event_type")
        guard !eventType.isEmpty else { throw ProtocolError(.badRequest, "field 'event_type' must name the event's type") }
        self.init(
            eventType: eventType, data: try object.required("data"),
            eventID: try object.optionalString("event_id", allowingNull: false),
            partitionKey: try object.optionalString("partition_key", allowingNull: false),
            correlationID: try object.optionalString("correlation_id", allowingNull: false))
    }
}
