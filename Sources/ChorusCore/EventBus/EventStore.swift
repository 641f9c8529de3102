/// The event bus's durable store: the log, consumers' deliveries and dead letters, partition
/// leases and saved definitions (docs/event-bus.md). `SQLiteEventStore` serves one node,
/// `PostgresEventStore` a cluster; both pass one contract suite (EventStoreContractTests).
///
/// Times are milliseconds since the Unix epoch, passed in (`now`) so that windows, schedules
/// and leases are tested without sleeping. Failures throw ``StoreError``.
public typealias EventStore = EventLog & EventDeliveries & PartitionLeases & EventDefinitions

/// The append-only log of events.
public protocol EventLog: Sendable {
    /// Appends `events` in one transaction, committed durably before it returns, in order.
    /// An `eventID` appended less than `idempotencyWindow` ms before `now` (or earlier in the
    /// batch) is not appended again: its receipt is the original's, `duplicate: true`.
    func append(_ events: [Event], now: Int64, idempotencyWindow: Int64) async throws -> [EventReceipt]
    /// Events the query selects, in its order.
    func events(_ query: EventQuery) async throws -> [LoggedEvent]
    /// Size, extent and per type counts of the log.
    func stats() async throws -> EventLogStats
    /// The last sequence appended, which an emptied log keeps (0 before the first append): what
    /// ``stats()`` says, read alone and cheaply, as each consumer does every poll for its lag.
    func lastSequence() async throws -> Int64
    /// Removes what `retention` allows, except events a pending delivery or a dead letter
    /// refers to; returns how many events it removed.
    func trim(_ retention: EventRetention, now: Int64) async throws -> Int
    /// Forgets event ids first appended before `seenBefore` (past the idempotency window);
    /// returns how many.
    func forgetEventIDs(seenBefore: Int64) async throws -> Int
}

/// A log that can also append by blocking the calling thread (SQLite's, whose writes block
/// anyway): the bus then commits on a thread of its own and answers publishes without a task
/// or a hop to the store's queue.
public protocol BlockingEventAppend: Sendable {
    /// ``EventLog/append(_:now:idempotencyWindow:)``, returning once committed.
    func appendBlocking(_ events: [Event], now: Int64, idempotencyWindow: Int64) throws -> [EventReceipt]
}

/// Consumers' durable state: the fan-out cursor, pending deliveries, attempts, dead letters.
public protocol EventDeliveries: Sendable {
    /// The highest sequence fanned out to `consumer`; 0 before its first fan-out.
    func cursor(of consumer: String) async throws -> Int64
    /// In one transaction, serialized per consumer: creates `deliveries` (due at `now`) and
    /// moves the cursor to `through`. Deliveries at or below the cursor are skipped and the
    /// cursor never moves back, so running it again (after a crash, or on another node) creates
    /// nothing twice. Returns the cursor afterwards.
    func fanOut(consumer: String, through sequence: Int64, deliveries: [NewDelivery], now: Int64) async throws -> Int64
    /// Creates `deliveries` due at `now`, whatever the cursor (replay); one already pending is
    /// kept as it is. Returns how many it created.
    func enqueue(consumer: String, deliveries: [NewDelivery], now: Int64) async throws -> Int
    /// Pending deliveries of `consumer` in `partitions` (nil: all), due by `dueBy` (nil: due or
    /// not, so an ordered consumer sees the keys it must hold), by sequence, at most `limit`.
    func pending(consumer: String, partitions: [Int]?, dueBy: Int64?, limit: Int) async throws -> [PendingDelivery]
    /// Records attempts' outcomes in one transaction, in order, each as ``delivered(consumer:sequence:)``
    /// or ``failed(consumer:sequence:attempt:retryAt:)`` records it alone, and answers what each
    /// answers (one result per record, in order). All or nothing: when it throws, none is recorded.
    func record(consumer: String, _ records: [DeliveryRecord]) async throws -> [RecordedOutcome]
    /// Dead letters of `consumer` (nil: all), with ids above `afterID`, by id, at most `limit`.
    func deadLetters(consumer: String?, afterID: Int64?, limit: Int) async throws -> [DeadLetter]
    /// Moves the selected dead letters back to pending, due at `now`, attempts counted from 0
    /// again, their history kept. Returns how many.
    func retryDeadLetters(_ selection: DeadLetterSelection, now: Int64) async throws -> Int
    /// Removes the selected dead letters and their attempts. Returns how many.
    func clearDeadLetters(_ selection: DeadLetterSelection) async throws -> Int
    /// Every consumer with a cursor, pending deliveries or dead letters.
    func consumerStates() async throws -> [ConsumerDeliveryState]
    /// Forgets everything of `consumer`: cursor, deliveries, attempts, dead letters, leases.
    func removeConsumerState(_ consumer: String) async throws
}

/// Which node delivers which partition of a consumer (a cluster's nodes share the store).
public protocol PartitionLeases: Sendable {
    /// Renews the leases `node` holds on `consumer`'s partitions (0..<`partitionCount`) and
    /// takes free or expired ones, up to `max` held in all, each until `now + ttl`; releases
    /// those beyond `max` (another node joined). Returns the partitions it holds, sorted.
    /// Two nodes never hold one partition at once.
    func acquireLeases(consumer: String, partitionCount: Int, node: String, max: Int, ttl: Int64, now: Int64) async throws -> [Int]
    /// Releases `node`'s leases (of `consumer`, or of all consumers when nil); returns how many.
    @discardableResult
    func releaseLeases(node: String, consumer: String?) async throws -> Int
}

/// Definitions saved by the API (consumers, schemas), so they survive restarts.
public protocol EventDefinitions: Sendable {
    /// Saves `body` as the definition `name` of `kind`, replacing one (its creation time kept).
    func saveDefinition(_ kind: StoredDefinition.Kind, name: String, body: String, now: Int64) async throws
    /// The definitions of `kind`, by name.
    func definitions(_ kind: StoredDefinition.Kind) async throws -> [StoredDefinition]
    /// Removes one; false when there was none.
    @discardableResult
    func removeDefinition(_ kind: StoredDefinition.Kind, name: String) async throws -> Bool
}

extension EventDeliveries {
    /// The delivery succeeded: removes it and its attempts. False when it was not pending.
    @discardableResult
    public func delivered(consumer: String, sequence: Int64) async throws -> Bool {
        guard case .delivered(let removed)? = try await self.record(consumer: consumer, [.delivered(sequence: sequence)]).first else {
            throw StoreError("record answered no outcome for delivered \(sequence)")
        }
        return removed
    }

    /// Records a failed attempt (durably, with the next attempt's number) and reschedules the
    /// delivery at `retryAt`, or, when `retryAt` is nil (the last attempt), moves it to the
    /// dead-letter queue at `attempt.at`.
    public func failed(consumer: String, sequence: Int64, attempt: DeliveryAttempt, retryAt: Int64?) async throws -> FailureOutcome {
        let records: [DeliveryRecord] = [.failed(sequence: sequence, attempt: attempt, retryAt: retryAt)]
        guard case .failed(let outcome)? = try await self.record(consumer: consumer, records).first else {
            throw StoreError("record answered no outcome for failed \(sequence)")
        }
        return outcome
    }
}

extension EventDeliveries where Self: EventLog {
    /// Replay: creates deliveries to `consumer` for the events `range` selects (its time range
    /// and types; its order and limit are ignored) that `matches` accepts, up to the consumer's
    /// cursor (later events reach it by fan-out). Returns how many it created.
    public func replay(
        consumer: String, range: EventQuery, partitionCount: Int, now: Int64, pageSize: Int = 500,
        matching matches: (LoggedEvent) -> Bool = { _ in true }
    ) async throws -> Int {
        let cursor = try await self.cursor(of: consumer)
        var query = range
        query.order = .oldestFirst
        query.limit = pageSize
        query.beforeSequence = min(range.beforeSequence ?? .max, cursor + 1)
        var created = 0
        while true {
            let page = try await self.events(query)
            let deliveries = page.filter(matches).map { NewDelivery($0, partitionCount: partitionCount) }
            created += try await self.enqueue(consumer: consumer, deliveries: deliveries, now: now)
            guard page.count == pageSize, let last = page.last else { return created }
            query.afterSequence = last.sequence
        }
    }
}
