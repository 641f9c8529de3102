/// A delivery to create for a consumer: the event at `sequence`, in `partition`.
public struct NewDelivery: Sendable, Hashable {
    /// The event's sequence.
    public var sequence: Int64
    /// The event's partition key, kept on the row so an ordered consumer holds the key.
    public var partitionKey: String?
    /// ``EventPartition/of(key:sequence:count:)`` for the consumer's partition count.
    public var partition: Int

    /// A delivery of the event at `sequence`.
    public init(sequence: Int64, partitionKey: String?, partition: Int) {
        self.sequence = sequence
        self.partitionKey = partitionKey
        self.partition = partition
    }

    /// The delivery of `event` to a consumer of `partitionCount` partitions.
    public init(_ event: LoggedEvent, partitionCount: Int) {
        self.init(
            sequence: event.sequence, partitionKey: event.event.partitionKey,
            partition: EventPartition.of(key: event.event.partitionKey, sequence: event.sequence, count: partitionCount))
    }
}

/// A delivery not done yet: the event and how its attempts went so far.
public struct PendingDelivery: Sendable, Hashable {
    /// The consumer it is for.
    public var consumer: String
    /// The event (the store keeps it while the delivery is pending).
    public var event: LoggedEvent
    /// Its partition.
    public var partition: Int
    /// Failed attempts since it was created (or retried from the dead-letter queue).
    public var attempts: Int
    /// When it is due (milliseconds).
    public var nextAttemptAt: Int64
    /// The last attempt's error.
    public var lastError: String?

    /// A pending delivery.
    public init(consumer: String, event: LoggedEvent, partition: Int, attempts: Int, nextAttemptAt: Int64, lastError: String?) {
        self.consumer = consumer
        self.event = event
        self.partition = partition
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastError = lastError
    }
}

/// One failed attempt to deliver, as the dead-letter queue shows it.
public struct DeliveryAttempt: Sendable, Hashable {
    /// 1, 2, …: the attempt's number in its round (a retry from the dead-letter queue starts a new round).
    public var number: Int
    /// When it started (milliseconds).
    public var at: Int64
    /// The HTTP status a webhook answered, if it answered.
    public var statusCode: Int?
    /// What went wrong.
    public var error: String
    /// How long it took (milliseconds).
    public var duration: Int64

    /// An attempt; the store sets `number` when it records it.
    public init(number: Int = 0, at: Int64, statusCode: Int? = nil, error: String, duration: Int64) {
        self.number = number
        self.at = at
        self.statusCode = statusCode
        self.error = error
        self.duration = duration
    }
}

/// What recording a failed attempt did.
public enum FailureOutcome: Sendable, Hashable {
    /// Still pending, due again at the time given.
    case rescheduled(attempts: Int)
    /// Moved to the dead-letter queue.
    case deadLettered(id: Int64)
    /// There was no such pending delivery (delivered, dead-lettered or removed meanwhile).
    case notPending
}

/// One attempt's outcome to record (``EventDeliveries/record(consumer:_:)``).
public enum DeliveryRecord: Sendable, Hashable {
    /// The delivery of the event at `sequence` succeeded, as ``EventDeliveries/delivered(consumer:sequence:)``.
    case delivered(sequence: Int64)
    /// An attempt failed, as ``EventDeliveries/failed(consumer:sequence:attempt:retryAt:)``: retried at
    /// `retryAt`, or dead-lettered when it is nil.
    case failed(sequence: Int64, attempt: DeliveryAttempt, retryAt: Int64?)

    /// The event's sequence.
    public var sequence: Int64 {
        switch self {
        case .delivered(let sequence), .failed(let sequence, _, _): sequence
        }
    }
}

/// What recording one outcome did: what `delivered` or `failed` answers.
public enum RecordedOutcome: Sendable, Hashable {
    /// A success: `removed` is false when the delivery was not pending.
    case delivered(removed: Bool)
    /// A failed attempt.
    case failed(FailureOutcome)
}

/// A delivery that failed its last attempt, with every attempt.
public struct DeadLetter: Sendable, Hashable {
    /// Its id in the queue (increasing: pages go by id).
    public var id: Int64
    /// The consumer it was for.
    public var consumer: String
    /// The event.
    public var event: LoggedEvent
    /// Its partition.
    public var partition: Int
    /// When it was dead-lettered (milliseconds).
    public var failedAt: Int64
    /// Every attempt, oldest first, across retries from the queue.
    public var attempts: [DeliveryAttempt]

    /// A dead letter.
    public init(id: Int64, consumer: String, event: LoggedEvent, partition: Int, failedAt: Int64, attempts: [DeliveryAttempt]) {
        self.id = id
        self.consumer = consumer
        self.event = event
        self.partition = partition
        self.failedAt = failedAt
        self.attempts = attempts
    }
}

/// Which dead letters to retry or clear.
public enum DeadLetterSelection: Sendable, Hashable {
    /// These ids (`POST /api/events/dlq/retry` with ids).
    case ids([Int64])
    /// Every dead letter of one consumer.
    case consumer(String)
    /// Every dead letter.
    case all
}

/// A consumer's durable state, for stats (lag) and the dashboard.
public struct ConsumerDeliveryState: Sendable, Hashable {
    /// The consumer's name.
    public var consumer: String
    /// The highest sequence fanned out to it (0: none yet).
    public var cursor: Int64
    /// Deliveries pending.
    public var pending: Int
    /// The oldest pending delivery's sequence.
    public var oldestPendingSequence: Int64?
    /// Dead letters.
    public var deadLettered: Int

    /// A consumer's state.
    public init(consumer: String, cursor: Int64, pending: Int, oldestPendingSequence: Int64?, deadLettered: Int) {
        self.consumer = consumer
        self.cursor = cursor
        self.pending = pending
        self.oldestPendingSequence = oldestPendingSequence
        self.deadLettered = deadLettered
    }
}

/// A definition the API saved (a consumer, a schema): opaque JSON the bus interprets.
public struct StoredDefinition: Sendable, Hashable {
    /// What it defines.
    public struct Kind: Sendable, Hashable, RawRepresentable {
        /// `consumer`, `schema`, …
        public var rawValue: String
        /// A kind.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// A consumer's definition, named by the consumer.
        public static let consumer = Kind(rawValue: "consumer")
        /// An event type's JSON Schema, named by the type.
        public static let schema = Kind(rawValue: "schema")
    }

    /// What it defines.
    public var kind: Kind
    /// The consumer's name, the event type.
    public var name: String
    /// The definition: JSON text.
    public var body: String
    /// When it was first saved (milliseconds).
    public var createdAt: Int64
    /// When it was last saved.
    public var updatedAt: Int64

    /// A definition.
    public init(kind: Kind, name: String, body: String, createdAt: Int64, updatedAt: Int64) {
        self.kind = kind
        self.name = name
        self.body = body
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
