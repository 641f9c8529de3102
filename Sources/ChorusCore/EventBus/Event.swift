public import NIOCore

/// An event as a publisher sends it to the bus: what happened (`type`, `data`), when, and the
/// publisher's id for it (`eventID`, the idempotency key).
public struct Event: Sendable, Hashable {
    /// The publisher's id: a second append of it within the idempotency window is a duplicate.
    public var eventID: String
    /// What happened, e.g. `order.created`; consumers select events by type patterns.
    public var type: String
    /// The payload: one JSON value's bytes, exactly as published (the publish path validates it).
    public var data: ByteBuffer
    /// Milliseconds since the Unix epoch (the publisher's, or the time of the append).
    public var timestamp: Int64
    /// Ties related events together (a request, a saga); carried, never interpreted.
    public var correlationID: String?
    /// Events with one key are delivered in order to an ordered consumer; nil: no order.
    public var partitionKey: String?
    /// Free-form string headers, forwarded to consumers.
    public var headers: [String: String]

    /// An event.
    public init(
        eventID: String, type: String, data: ByteBuffer, timestamp: Int64,
        correlationID: String? = nil, partitionKey: String? = nil, headers: [String: String] = [:]
    ) {
        self.eventID = eventID
        self.type = type
        self.data = data
        self.timestamp = timestamp
        self.correlationID = correlationID
        self.partitionKey = partitionKey
        self.headers = headers
    }

    /// The bytes retention counts for the event: its data, type, id and key.
    public var storedSize: Int {
        self.data.readableBytes + self.type.utf8.count + self.eventID.utf8.count + (self.partitionKey?.utf8.count ?? 0)
    }
}

/// An event in the log, with the sequence the store gave it.
public struct LoggedEvent: Sendable, Hashable {
    /// 1, 2, 3, …: strictly increasing in commit order, never reused (not necessarily dense:
    /// retention and rolled-back appends leave gaps).
    public var sequence: Int64
    /// The event.
    public var event: Event

    /// An event at `sequence`.
    public init(sequence: Int64, event: Event) {
        self.sequence = sequence
        self.event = event
    }
}

/// What an append answers the publisher: where the event is, or where the original of a
/// duplicate is.
public struct EventReceipt: Sendable, Hashable {
    /// The sequence of the event (of the original, for a duplicate).
    public var sequence: Int64
    /// The event's id.
    public var eventID: String
    /// The event's timestamp (the original's, for a duplicate).
    public var timestamp: Int64
    /// True when `eventID` was appended before, within the idempotency window: nothing was appended.
    public var duplicate: Bool

    /// A receipt.
    public init(sequence: Int64, eventID: String, timestamp: Int64, duplicate: Bool) {
        self.sequence = sequence
        self.eventID = eventID
        self.timestamp = timestamp
        self.duplicate = duplicate
    }
}
