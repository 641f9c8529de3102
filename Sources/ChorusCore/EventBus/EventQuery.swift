/// Which events of the log to read: bounds that combine (all must hold), an order and a limit.
///
/// Topics are event types or type patterns: the store selects exact `types`; a caller with a
/// pattern expands it against ``EventLogStats/types`` first (the types are few, the events many).
public struct EventQuery: Sendable, Hashable {
    /// Oldest first (fan-out, replay) or newest first (`GET /api/events/log`).
    public enum Order: Sendable, Hashable {
        /// Ascending sequences.
        case oldestFirst
        /// Descending sequences.
        case newestFirst
    }

    /// Only sequences above this.
    public var afterSequence: Int64?
    /// Only sequences below this (the next page of a newest-first read).
    public var beforeSequence: Int64?
    /// Only timestamps at or after this (milliseconds).
    public var since: Int64?
    /// Only timestamps before this (milliseconds).
    public var until: Int64?
    /// Only these types; nil: every type.
    public var types: [String]?
    /// The order of the answer.
    public var order: Order
    /// At most this many events.
    public var limit: Int

    /// A query; with no bounds, the whole log.
    public init(
        afterSequence: Int64? = nil, beforeSequence: Int64? = nil, since: Int64? = nil, until: Int64? = nil,
        types: [String]? = nil, order: Order = .oldestFirst, limit: Int
    ) {
        self.afterSequence = afterSequence
        self.beforeSequence = beforeSequence
        self.since = since
        self.until = until
        self.types = types
        self.order = order
        self.limit = limit
    }
}

/// The log's size and extent, and per type counts (`/api/events/stats`, `/api/events/topics`).
public struct EventLogStats: Sendable, Hashable {
    /// Per event type.
    public struct TypeStats: Sendable, Hashable {
        /// Events of the type in the log.
        public var count: Int
        /// Their ``Event/storedSize``, summed.
        public var bytes: Int
        /// The newest one's sequence.
        public var newestSequence: Int64
        /// The newest one's timestamp.
        public var newestTimestamp: Int64

        /// Counts of one type.
        public init(count: Int, bytes: Int, newestSequence: Int64, newestTimestamp: Int64) {
            self.count = count
            self.bytes = bytes
            self.newestSequence = newestSequence
            self.newestTimestamp = newestTimestamp
        }
    }

    /// Events in the log.
    public var count: Int
    /// Their ``Event/storedSize``, summed.
    public var bytes: Int
    /// The oldest sequence still in the log; a consumer whose cursor is below it minus one
    /// lost events to retention.
    public var oldestSequence: Int64?
    /// The oldest event's timestamp.
    public var oldestTimestamp: Int64?
    /// The highest sequence ever assigned (kept when retention empties the log).
    public var lastSequence: Int64
    /// The newest event's timestamp.
    public var newestTimestamp: Int64?
    /// Per type.
    public var types: [String: TypeStats]

    /// Stats.
    public init(count: Int, bytes: Int, oldestSequence: Int64?, oldestTimestamp: Int64?, lastSequence: Int64, newestTimestamp: Int64?, types: [String: TypeStats]) {
        self.count = count
        self.bytes = bytes
        self.oldestSequence = oldestSequence
        self.oldestTimestamp = oldestTimestamp
        self.lastSequence = lastSequence
        self.newestTimestamp = newestTimestamp
        self.types = types
    }
}

/// How much of the log retention may remove: events older than `maxAge`, and the oldest events
/// beyond `maxEvents` or `maxBytes`. Events a pending delivery or a dead letter refers to stay.
public struct EventRetention: Sendable, Hashable {
    /// Milliseconds; nil: no limit by age.
    public var maxAge: Int64?
    /// Events kept at most; nil: no limit by count.
    public var maxEvents: Int?
    /// ``Event/storedSize`` summed over the events kept, at most; nil: no limit by size.
    public var maxBytes: Int?

    /// Limits; nil ones do not apply.
    public init(maxAge: Int64? = nil, maxEvents: Int? = nil, maxBytes: Int? = nil) {
        self.maxAge = maxAge
        self.maxEvents = maxEvents
        self.maxBytes = maxBytes
    }

    /// How many events and bytes of a log with `totals` the count and size limits remove (the
    /// oldest first, until both are met); nil when the log is within both, or neither is set.
    public func excess(of totals: EventLogStats) -> (events: Int, bytes: Int)? {
        let excess = (events: self.maxEvents.map { totals.count - $0 } ?? 0, bytes: self.maxBytes.map { totals.bytes - $0 } ?? 0)
        return excess.events > 0 || excess.bytes > 0 ? excess : nil
    }

    /// Whether a count or size limit is set: only then do a log's totals matter to retention.
    public var limitsCountOrSize: Bool {
        self.maxEvents != nil || self.maxBytes != nil
    }
}
