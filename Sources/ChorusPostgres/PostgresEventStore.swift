public import ChorusCore
public import Logging
import NIOCore
public import PostgresNIO

/// The event bus's store shared by a cluster's nodes (migrations 2, `event_bus`, and 6,
/// `event_type_stats`).
///
/// An append commits before it returns and holds the counter row's lock meanwhile, so
/// sequences follow commit order (a plain `bigserial` hands numbers out in call order, and a
/// fan-out reading "after the cursor" would skip one a slower transaction commits later) and
/// the idempotency check of two nodes appending one `event_id` cannot race. A consumer's
/// fan-out locks its cursor row; leases are taken with `FOR UPDATE SKIP LOCKED`.
public final class PostgresEventStore: EventStore {
    private let client: PostgresClient
    private let logger: Logger
    private let timeout: Duration

    /// A store on `client` (``PostgresService/client``, migrated); a call that takes longer
    /// than `timeout` fails with a ``StoreError``.
    public init(client: PostgresClient, timeout: Duration = .seconds(10), logger: Logger = Logger(label: "chorus.events")) {
        self.client = client
        self.timeout = timeout
        self.logger = logger
    }

    // MARK: - The log

    /// Appends `events` in one transaction, committed durably before it returns, in order.
    /// An `eventID` appended less than `idempotencyWindow` ms before `now` (or earlier in the
    /// batch) is not appended again: its receipt is the original's, `duplicate: true`.
    public func append(_ events: [Event], now: Int64, idempotencyWindow: Int64) async throws -> [EventReceipt] {
        try await self.bounded {
            let expired = now - idempotencyWindow
            return try await self.transaction { connection, logger in
                // Every append holds the counter's lock until it commits, so no other can claim an
                // id meanwhile: the batch's ids are looked up once, and the new events and their
                // ids written in one statement (a statement per event held the lock, which every
                // node's appends wait for, for a round trip per event).
                var last = try await Self.first(
                    Int64.self, connection.query("SELECT last_seq FROM chorus_event_counter FOR UPDATE", logger: logger)) ?? 0
                if events.count == 1 { return [try await Self.appendOne(events[0], after: last, now: now, expired: expired, connection, logger)] }
                var originals: [String: (sequence: Int64, timestamp: Int64)] = [:]
                let ids = Array(Set(events.map(\.eventID)))
                let seen = try await connection.query(
                    "SELECT event_id, seq, ts FROM chorus_event_ids WHERE event_id = ANY(\(ids)) AND seen_at > \(expired)", logger: logger)
                for try await (id, sequence, timestamp) in seen.decode((String, Int64, Int64).self) {
                    originals[id] = (sequence, timestamp)
                }
                var receipts: [EventReceipt] = []
                receipts.reserveCapacity(events.count)
                var appended = AppendedColumns()
                for event in events {
                    if let original = originals[event.eventID] {
                        receipts.append(EventReceipt(sequence: original.sequence, eventID: event.eventID, timestamp: original.timestamp, duplicate: true))
                        continue
                    }
                    last += 1
                    originals[event.eventID] = (last, event.timestamp)
                    appended.add(event, sequence: last)
                    receipts.append(EventReceipt(sequence: last, eventID: event.eventID, timestamp: event.timestamp, duplicate: false))
                }
                guard !appended.sequences.isEmpty else { return receipts }
                // An id past the window is claimed again (its row replaced); the counter moves on.
                try await connection.query(
                    """
                    WITH new AS (
                        SELECT * FROM unnest(\(appended.sequences), \(appended.eventIDs), \(appended.types), \(appended.data), \(appended.timestamps),
                            \(appended.correlationIDs), \(appended.partitionKeys), \(appended.headers), \(appended.present), \(appended.sizes))
                        AS t(seq, event_id, type, data, ts, correlation_id, partition_key, headers, present, size)),
                    claimed AS (
                        INSERT INTO chorus_event_ids (event_id, seq, ts, seen_at) SELECT event_id, seq, ts, \(now) FROM new
                        ON CONFLICT (event_id) DO UPDATE SET seq = excluded.seq, ts = excluded.ts, seen_at = excluded.seen_at),
                    counted AS (UPDATE chorus_event_counter SET last_seq = \(last))
                    INSERT INTO chorus_events (seq, event_id, type, data, ts, correlation_id, partition_key, headers, size)
                    SELECT seq, event_id, type, data, ts, CASE WHEN present & 1 <> 0 THEN correlation_id END,
                        CASE WHEN present & 2 <> 0 THEN partition_key END, CASE WHEN present & 4 <> 0 THEN headers END, size
                    FROM new ORDER BY seq
                    """, logger: logger)
                return receipts
            }
        }
    }

    /// One event (a publisher alone, or the only one waiting), under the counter's lock: its id
    /// claimed (new, or past the window and replaced), the event appended and the counter moved
    /// in one statement, a round trip fewer than a batch's lookup first; or the original's receipt.
    private static func appendOne(
        _ event: Event, after last: Int64, now: Int64, expired: Int64, _ connection: PostgresConnection, _ logger: Logger
    ) async throws -> EventReceipt {
        let sequence = last + 1
        let appended = try await Self.first(
            Int64.self,
            connection.query(
                """
                WITH claimed AS (
                    INSERT INTO chorus_event_ids (event_id, seq, ts, seen_at) VALUES (\(event.eventID), \(sequence), \(event.timestamp), \(now))
                    ON CONFLICT (event_id) DO UPDATE SET seq = excluded.seq, ts = excluded.ts, seen_at = excluded.seen_at
                    WHERE chorus_event_ids.seen_at <= \(expired)
                    RETURNING seq),
                counted AS (UPDATE chorus_event_counter SET last_seq = \(sequence) WHERE EXISTS (SELECT 1 FROM claimed))
                INSERT INTO chorus_events (seq, event_id, type, data, ts, correlation_id, partition_key, headers, size)
                SELECT seq, \(event.eventID), \(event.type), \(event.data), \(event.timestamp), \(event.correlationID),
                    \(event.partitionKey), \(EventHeaders.encode(event.headers)), \(event.storedSize) FROM claimed
                RETURNING seq
                """, logger: logger))
        if appended != nil {
            return EventReceipt(sequence: sequence, eventID: event.eventID, timestamp: event.timestamp, duplicate: false)
        }
        let rows = try await connection.query("SELECT seq, ts FROM chorus_event_ids WHERE event_id = \(event.eventID)", logger: logger)
        for try await (original, timestamp) in rows.decode((Int64, Int64).self) {
            return EventReceipt(sequence: original, eventID: event.eventID, timestamp: timestamp, duplicate: true)
        }
        throw StoreError("event id \(event.eventID) is neither new nor recorded")
    }

    /// A batch's new events as columns, for one `unnest`: arrays cannot hold NULL here, so the
    /// optional columns carry "" and `present` says which of them are given (1: correlation id,
    /// 2: partition key, 4: headers).
    private struct AppendedColumns {
        var sequences: [Int64] = []
        var eventIDs: [String] = []
        var types: [String] = []
        var data: [ByteBuffer] = []
        var timestamps: [Int64] = []
        var correlationIDs: [String] = []
        var partitionKeys: [String] = []
        var headers: [String] = []
        var present: [Int32] = []
        var sizes: [Int64] = []

        mutating func add(_ event: Event, sequence: Int64) {
            let headers = EventHeaders.encode(event.headers)
            self.sequences.append(sequence)
            self.eventIDs.append(event.eventID)
            self.types.append(event.type)
            self.data.append(event.data)
            self.timestamps.append(event.timestamp)
            self.correlationIDs.append(event.correlationID ?? "")
            self.partitionKeys.append(event.partitionKey ?? "")
            self.headers.append(headers ?? "")
            self.present.append((event.correlationID == nil ? 0 : 1) | (event.partitionKey == nil ? 0 : 2) | (headers == nil ? 0 : 4))
            self.sizes.append(Int64(event.storedSize))
        }
    }

    /// Events the query selects, in its order.
    public func events(_ query: EventQuery) async throws -> [LoggedEvent] {
        try await self.bounded {
            let order = query.order == .oldestFirst ? "ASC" : "DESC"
            let rows = try await self.client.query(
                """
                SELECT \(unescaped: Self.eventColumns) FROM chorus_events e
                WHERE (\(query.afterSequence)::bigint IS NULL OR e.seq > \(query.afterSequence))
                AND (\(query.beforeSequence)::bigint IS NULL OR e.seq < \(query.beforeSequence))
                AND (\(query.since)::bigint IS NULL OR e.ts >= \(query.since))
                AND (\(query.until)::bigint IS NULL OR e.ts < \(query.until))
                AND (\(query.types)::text[] IS NULL OR e.type = ANY(\(query.types)))
                ORDER BY e.seq \(unescaped: order) LIMIT \(query.limit)
                """, logger: self.logger)
            var events: [LoggedEvent] = []
            for try await row in rows {
                events.append(try Self.loggedEvent(row.makeRandomAccess()))
            }
            return events
        }
    }

    /// Size, extent and per type counts of the log: the per-type rows that triggers keep
    /// (migration 6), and the log's ends, read in one statement (one snapshot). A type's newest
    /// timestamp is the largest appended: retention does not lower it.
    public func stats() async throws -> EventLogStats {
        try await self.bounded {
            var stats = EventLogStats(count: 0, bytes: 0, oldestSequence: nil, oldestTimestamp: nil, lastSequence: 0, newestTimestamp: nil, types: [:])
            let rows = try await self.client.query(
                """
                SELECT t.type, t.count, t.bytes, t.newest_seq, t.newest_ts, ends.oldest_seq, ends.oldest_ts, ends.last_seq
                FROM (SELECT (SELECT seq FROM chorus_events ORDER BY seq LIMIT 1) AS oldest_seq,
                             (SELECT ts FROM chorus_events ORDER BY seq LIMIT 1) AS oldest_ts, last_seq FROM chorus_event_counter) AS ends
                LEFT JOIN chorus_event_type_stats t ON true
                """, logger: self.logger)
            for try await (type, count, bytes, sequence, timestamp, oldest, oldestTimestamp, last) in rows.decode(
                (String?, Int?, Int?, Int64?, Int64?, Int64?, Int64?, Int64).self)
            {
                (stats.oldestSequence, stats.oldestTimestamp, stats.lastSequence) = (oldest, oldestTimestamp, last)
                guard let type, let count, let bytes, let sequence, let timestamp else { continue }
                stats.types[type] = EventLogStats.TypeStats(count: count, bytes: bytes, newestSequence: sequence, newestTimestamp: timestamp)
                stats.count += count
                stats.bytes += bytes
                stats.newestTimestamp = max(stats.newestTimestamp ?? timestamp, timestamp)
            }
            return stats
        }
    }

    /// The last sequence appended (0 before the first): the counter appends take their
    /// sequences from, one row.
    public func lastSequence() async throws -> Int64 {
        try await self.bounded {
            try await Self.first(Int64.self, self.client.query("SELECT last_seq FROM chorus_event_counter", logger: self.logger)) ?? 0
        }
    }

    /// Removes what `retention` allows, except events a pending delivery or a dead letter
    /// refers to; returns how many events it removed (the delete trigger subtracts them from
    /// the per-type stats).
    public func trim(_ retention: EventRetention, now: Int64) async throws -> Int {
        let cut = try await self.retentionCut(retention)
        return try await self.bounded {
            let older = retention.maxAge.map { now - $0 } ?? .min
            return try await self.count(
                """
                WITH removed AS (
                    DELETE FROM chorus_events WHERE (seq <= \(cut) OR ts < \(older))
                    AND NOT EXISTS (SELECT 1 FROM chorus_event_pending WHERE chorus_event_pending.seq = chorus_events.seq)
                    AND NOT EXISTS (SELECT 1 FROM chorus_event_dead WHERE chorus_event_dead.seq = chorus_events.seq)
                    RETURNING 1)
                SELECT count(*) FROM removed
                """)
        }
    }

    /// The highest sequence the count and size limits of `retention` remove (0: none): the
    /// log's totals from ``stats()``, and only a log over a limit walked, oldest first, as far
    /// as the excess (a running sum over the whole log took about a second per million events).
    private func retentionCut(_ retention: EventRetention) async throws -> Int64 {
        guard retention.limitsCountOrSize, let excess = retention.excess(of: try await self.stats()) else { return 0 }
        return try await self.bounded {
            try await Self.first(
                Int64.self,
                self.client.query(
                    """
                    SELECT seq FROM (SELECT seq, row_number() OVER oldest AS n, sum(size) OVER oldest AS running
                                     FROM chorus_events WINDOW oldest AS (ORDER BY seq)) AS walked
                    WHERE n >= \(excess.events) AND running >= \(excess.bytes) ORDER BY seq LIMIT 1
                    """, logger: self.logger)) ?? 0
        }
    }

    /// Forgets event ids first appended before `seenBefore` (past the idempotency window);
    /// returns how many.
    public func forgetEventIDs(seenBefore time: Int64) async throws -> Int {
        try await self.bounded {
            try await self.count("WITH removed AS (DELETE FROM chorus_event_ids WHERE seen_at < \(time) RETURNING 1) SELECT count(*) FROM removed")
        }
    }

    // MARK: - Deliveries

    /// The highest sequence fanned out to `consumer`; 0 before its first fan-out.
    public func cursor(of consumer: String) async throws -> Int64 {
        try await self.bounded {
            try await Self.first(
                Int64.self, self.client.query("SELECT fanned_out FROM chorus_event_cursors WHERE consumer = \(consumer)", logger: self.logger)) ?? 0
        }
    }

    /// In one transaction, serialized per consumer: creates `deliveries` (due at `now`) and
    /// moves the cursor to `through`. Deliveries at or below the cursor are skipped and the
    /// cursor never moves back, so running it again (after a crash, or on another node) creates
    /// nothing twice. Returns the cursor afterwards.
    public func fanOut(consumer: String, through sequence: Int64, deliveries: [NewDelivery], now: Int64) async throws -> Int64 {
        try await self.bounded {
            try await self.transaction { connection, logger in
                try await connection.query(
                    "INSERT INTO chorus_event_cursors (consumer, fanned_out) VALUES (\(consumer), 0) ON CONFLICT DO NOTHING", logger: logger)
                // The row lock serializes this consumer's fan-outs across nodes.
                let cursor = try await Self.first(
                    Int64.self, connection.query("SELECT fanned_out FROM chorus_event_cursors WHERE consumer = \(consumer) FOR UPDATE", logger: logger)) ?? 0
                guard sequence > cursor else { return cursor }
                _ = try await Self.insert(connection, logger, consumer, deliveries.filter { $0.sequence > cursor && $0.sequence <= sequence }, now)
                try await connection.query("UPDATE chorus_event_cursors SET fanned_out = \(sequence) WHERE consumer = \(consumer)", logger: logger)
                return sequence
            }
        }
    }

    /// Creates `deliveries` due at `now`, whatever the cursor (replay); one already pending is
    /// kept as it is. Returns how many it created.
    public func enqueue(consumer: String, deliveries: [NewDelivery], now: Int64) async throws -> Int {
        try await self.bounded {
            try await self.client.withConnection { connection in
                try await Self.insert(connection, self.logger, consumer, deliveries, now)
            }
        }
    }

    /// Pending deliveries of `consumer` in `partitions` (nil: all), due by `dueBy` (nil: due or
    /// not, so an ordered consumer sees the keys it must hold), by sequence, at most `limit`.
    public func pending(consumer: String, partitions: [Int]?, dueBy: Int64?, limit: Int) async throws -> [PendingDelivery] {
        try await self.bounded {
            let rows = try await self.client.query(
                """
                SELECT \(unescaped: Self.eventColumns), p.part, p.attempts, p.next_attempt_at, p.last_error
                FROM chorus_event_pending p JOIN chorus_events e ON e.seq = p.seq
                WHERE p.consumer = \(consumer) AND (\(partitions)::bigint[] IS NULL OR p.part = ANY(\(partitions)))
                AND (\(dueBy)::bigint IS NULL OR p.next_attempt_at <= \(dueBy))
                ORDER BY p.seq LIMIT \(limit)
                """, logger: self.logger)
            var pending: [PendingDelivery] = []
            for try await row in rows {
                let columns = row.makeRandomAccess()
                pending.append(
                    PendingDelivery(
                        consumer: consumer, event: try Self.loggedEvent(columns), partition: try columns[8].decode(Int.self),
                        attempts: try columns[9].decode(Int.self), nextAttemptAt: try columns[10].decode(Int64.self),
                        lastError: try columns[11].decode(String?.self)))
            }
            return pending
        }
    }

    /// Records attempts' outcomes in one transaction (one commit), in order, each as `delivered`
    /// or `failed` records it alone; one result per record.
    public func record(consumer: String, _ records: [DeliveryRecord]) async throws -> [RecordedOutcome] {
        guard !records.isEmpty else { return [] }
        return try await self.bounded {
            try await self.transaction { connection, logger in
                var outcomes: [RecordedOutcome] = []
                outcomes.reserveCapacity(records.count)
                for record in records {
                    switch record {
                    case .delivered(let sequence):
                        outcomes.append(.delivered(removed: try await Self.delivered(connection, logger, consumer, sequence)))
                    case .failed(let sequence, let attempt, let retryAt):
                        outcomes.append(.failed(try await Self.failed(connection, logger, consumer, sequence, attempt, retryAt)))
                    }
                }
                return outcomes
            }
        }
    }

    /// The delivery succeeded: removes it and its attempts. False when it was not pending.
    private static func delivered(_ connection: PostgresConnection, _ logger: Logger, _ consumer: String, _ sequence: Int64) async throws -> Bool {
        let rows = try await connection.query(
            """
            WITH removed AS (DELETE FROM chorus_event_pending WHERE consumer = \(consumer) AND seq = \(sequence) RETURNING 1),
            history AS (DELETE FROM chorus_event_attempts WHERE consumer = \(consumer) AND seq = \(sequence))
            SELECT count(*) FROM removed
            """, logger: logger)
        return (try await Self.first(Int.self, rows) ?? 0) > 0
    }

    /// Records a failed attempt (with the next attempt's number) and reschedules the delivery at
    /// `retryAt`, or, when `retryAt` is nil, moves it to the dead-letter queue at `attempt.at`.
    private static func failed(
        _ connection: PostgresConnection, _ logger: Logger, _ consumer: String, _ sequence: Int64, _ attempt: DeliveryAttempt, _ retryAt: Int64?
    ) async throws -> FailureOutcome {
        let updated = try await connection.query(
            """
            UPDATE chorus_event_pending SET attempts = attempts + 1, next_attempt_at = \(retryAt ?? attempt.at), last_error = \(attempt.error)
            WHERE consumer = \(consumer) AND seq = \(sequence) RETURNING attempts
            """, logger: logger)
        guard let attempts = try await Self.first(Int.self, updated) else { return .notPending }
        try await connection.query(
            """
            INSERT INTO chorus_event_attempts (consumer, seq, number, at, status, error, duration)
            VALUES (\(consumer), \(sequence), \(attempts), \(attempt.at), \(attempt.statusCode), \(attempt.error), \(attempt.duration))
            """, logger: logger)
        guard retryAt == nil else { return .rescheduled(attempts: attempts) }
        let moved = try await connection.query(
            """
            WITH moved AS (DELETE FROM chorus_event_pending WHERE consumer = \(consumer) AND seq = \(sequence)
                           RETURNING consumer, seq, partition_key, part)
            INSERT INTO chorus_event_dead (consumer, seq, partition_key, part, failed_at)
            SELECT consumer, seq, partition_key, part, \(attempt.at) FROM moved RETURNING id
            """, logger: logger)
        return .deadLettered(id: try await Self.first(Int64.self, moved) ?? 0)
    }

    /// Dead letters of `consumer` (nil: all), with ids above `afterID`, by id, at most `limit`.
    public func deadLetters(consumer: String?, afterID: Int64?, limit: Int) async throws -> [DeadLetter] {
        try await self.bounded {
            let rows = try await self.client.query(
                """
                SELECT \(unescaped: Self.eventColumns), d.part, d.id, d.consumer, d.failed_at
                FROM chorus_event_dead d JOIN chorus_events e ON e.seq = d.seq
                WHERE (\(consumer)::text IS NULL OR d.consumer = \(consumer)) AND d.id > \(afterID ?? 0)
                ORDER BY d.id LIMIT \(limit)
                """, logger: self.logger)
            var letters: [DeadLetter] = []
            for try await row in rows {
                let columns = row.makeRandomAccess()
                letters.append(
                    DeadLetter(
                        id: try columns[9].decode(Int64.self), consumer: try columns[10].decode(String.self), event: try Self.loggedEvent(columns),
                        partition: try columns[8].decode(Int.self), failedAt: try columns[11].decode(Int64.self), attempts: []))
            }
            guard !letters.isEmpty else { return [] }
            // Every attempt of the page in one query, then each to its letter.
            let history = try await self.client.query(
                """
                SELECT consumer, seq, number, at, status, error, duration FROM chorus_event_attempts
                WHERE consumer = ANY(\(letters.map(\.consumer))) AND seq = ANY(\(letters.map(\.event.sequence))) ORDER BY id
                """, logger: self.logger)
            var attempts: [String: [Int64: [DeliveryAttempt]]] = [:]
            for try await (consumer, sequence, number, at, status, error, duration) in history.decode((String, Int64, Int, Int64, Int?, String, Int64).self) {
                attempts[consumer, default: [:]][sequence, default: []].append(
                    DeliveryAttempt(number: number, at: at, statusCode: status, error: error, duration: duration))
            }
            return letters.map { letter in
                var letter = letter
                letter.attempts = attempts[letter.consumer]?[letter.event.sequence] ?? []
                return letter
            }
        }
    }

    /// Moves the selected dead letters back to pending, due at `now`, attempts counted from 0
    /// again, their history kept. Returns how many.
    public func retryDeadLetters(_ selection: DeadLetterSelection, now: Int64) async throws -> Int {
        try await self.bounded {
            let (ids, consumer) = Self.condition(selection)
            return try await self.count(
                """
                WITH moved AS (
                    DELETE FROM chorus_event_dead WHERE (\(ids)::bigint[] IS NULL OR id = ANY(\(ids))) AND (\(consumer)::text IS NULL OR consumer = \(consumer))
                    RETURNING id, consumer, seq, partition_key, part),
                pending AS (
                    INSERT INTO chorus_event_pending (consumer, seq, partition_key, part, next_attempt_at)
                    SELECT consumer, seq, partition_key, part, \(now) FROM moved ORDER BY id ON CONFLICT (consumer, seq) DO NOTHING)
                SELECT count(*) FROM moved
                """)
        }
    }

    /// Removes the selected dead letters and their attempts. Returns how many.
    public func clearDeadLetters(_ selection: DeadLetterSelection) async throws -> Int {
        try await self.bounded {
            let (ids, consumer) = Self.condition(selection)
            return try await self.count(
                """
                WITH removed AS (
                    DELETE FROM chorus_event_dead WHERE (\(ids)::bigint[] IS NULL OR id = ANY(\(ids))) AND (\(consumer)::text IS NULL OR consumer = \(consumer))
                    RETURNING consumer, seq),
                history AS (
                    DELETE FROM chorus_event_attempts a USING removed r WHERE a.consumer = r.consumer AND a.seq = r.seq
                    AND NOT EXISTS (SELECT 1 FROM chorus_event_pending p WHERE p.consumer = r.consumer AND p.seq = r.seq))
                SELECT count(*) FROM removed
                """)
        }
    }

    /// Every consumer with a cursor, pending deliveries or dead letters.
    public func consumerStates() async throws -> [ConsumerDeliveryState] {
        try await self.bounded {
            let rows = try await self.client.query(PostgresQuery(unsafeSQL: EventStoreSQL.consumerStates), logger: self.logger)
            var states: [ConsumerDeliveryState] = []
            for try await (consumer, cursor, pending, oldest, dead) in rows.decode((String, Int64, Int, Int64?, Int).self) {
                states.append(ConsumerDeliveryState(consumer: consumer, cursor: cursor, pending: pending, oldestPendingSequence: oldest, deadLettered: dead))
            }
            return states
        }
    }

    /// Forgets everything of `consumer`: cursor, deliveries, attempts, dead letters, leases.
    public func removeConsumerState(_ consumer: String) async throws {
        try await self.bounded {
            try await self.transaction { connection, logger in
                for table in ["chorus_event_cursors", "chorus_event_pending", "chorus_event_attempts", "chorus_event_dead", "chorus_event_leases"] {
                    try await connection.query("DELETE FROM \(unescaped: table) WHERE consumer = \(consumer)", logger: logger)
                }
            }
        }
    }

    // MARK: - Leases

    /// Renews the leases `node` holds on `consumer`'s partitions (0..<`partitionCount`) and
    /// takes free or expired ones, up to `max` held in all, each until `now + ttl`; releases
    /// those beyond `max` (another node joined). Returns the partitions it holds, sorted.
    /// Two nodes never hold one partition at once.
    public func acquireLeases(consumer: String, partitionCount: Int, node: String, max: Int, ttl: Int64, now: Int64) async throws -> [Int] {
        try await self.bounded {
            try await self.transaction { connection, logger in
                try await connection.query(
                    """
                    INSERT INTO chorus_event_leases (consumer, part) SELECT \(consumer), g FROM generate_series(0, \(partitionCount - 1)) AS g
                    ON CONFLICT DO NOTHING
                    """, logger: logger)
                // Its own first (renewed), then free or expired ones; rows another node is taking
                // right now are skipped, not waited for.
                let rows = try await connection.query(
                    """
                    SELECT part FROM chorus_event_leases
                    WHERE consumer = \(consumer) AND part < \(partitionCount) AND (node = \(node) OR node IS NULL OR expires_at <= \(now))
                    ORDER BY node IS NOT DISTINCT FROM \(node) DESC, part LIMIT \(max) FOR UPDATE SKIP LOCKED
                    """, logger: logger)
                var held: [Int] = []
                for try await part in rows.decode(Int.self) { held.append(part) }
                try await connection.query(
                    """
                    UPDATE chorus_event_leases SET node = NULL, expires_at = 0
                    WHERE consumer = \(consumer) AND node = \(node) AND NOT (part = ANY(\(held)))
                    """, logger: logger)
                try await connection.query(
                    "UPDATE chorus_event_leases SET node = \(node), expires_at = \(now + ttl) WHERE consumer = \(consumer) AND part = ANY(\(held))",
                    logger: logger)
                return held.sorted()
            }
        }
    }

    /// Releases `node`'s leases (of `consumer`, or of all consumers when nil); returns how many.
    public func releaseLeases(node: String, consumer: String?) async throws -> Int {
        try await self.bounded {
            try await self.count(
                """
                WITH released AS (UPDATE chorus_event_leases SET node = NULL, expires_at = 0
                                  WHERE node = \(node) AND (\(consumer)::text IS NULL OR consumer = \(consumer)) RETURNING 1)
                SELECT count(*) FROM released
                """)
        }
    }

    // MARK: - Definitions

    /// Saves `body` as the definition `name` of `kind`, replacing one (its creation time kept).
    public func saveDefinition(_ kind: StoredDefinition.Kind, name: String, body: String, now: Int64) async throws {
        try await self.bounded {
            try await self.client.query(
                """
                INSERT INTO chorus_event_definitions (kind, name, body, created_at, updated_at) VALUES (\(kind.rawValue), \(name), \(body), \(now), \(now))
                ON CONFLICT (kind, name) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at
                """, logger: self.logger)
        }
    }

    /// The definitions of `kind`, by name.
    public func definitions(_ kind: StoredDefinition.Kind) async throws -> [StoredDefinition] {
        try await self.bounded {
            let rows = try await self.client.query(
                "SELECT name, body, created_at, updated_at FROM chorus_event_definitions WHERE kind = \(kind.rawValue) ORDER BY name",
                logger: self.logger)
            var definitions: [StoredDefinition] = []
            for try await (name, body, created, updated) in rows.decode((String, String, Int64, Int64).self) {
                definitions.append(StoredDefinition(kind: kind, name: name, body: body, createdAt: created, updatedAt: updated))
            }
            return definitions
        }
    }

    /// Removes one; false when there was none.
    public func removeDefinition(_ kind: StoredDefinition.Kind, name: String) async throws -> Bool {
        try await self.bounded {
            try await self.count(
                """
                WITH removed AS (DELETE FROM chorus_event_definitions WHERE kind = \(kind.rawValue) AND name = \(name) RETURNING 1)
                SELECT count(*) FROM removed
                """) > 0
        }
    }

    // MARK: - Helpers

    private static let eventColumns = "e.seq, e.event_id, e.type, e.data, e.ts, e.correlation_id, e.partition_key, e.headers"

    /// Columns 0–7 of `eventColumns`.
    private static func loggedEvent(_ columns: PostgresRandomAccessRow) throws -> LoggedEvent {
        LoggedEvent(
            sequence: try columns[0].decode(Int64.self),
            event: Event(
                eventID: try columns[1].decode(String.self), type: try columns[2].decode(String.self),
                data: try columns[3].decode(ByteBuffer.self), timestamp: try columns[4].decode(Int64.self),
                correlationID: try columns[5].decode(String?.self), partitionKey: try columns[6].decode(String?.self),
                headers: EventHeaders.decode(try columns[7].decode(String?.self))))
    }

    /// Inserts pending rows in one statement, keeping ones that exist; returns how many it created.
    private static func insert(_ connection: PostgresConnection, _ logger: Logger, _ consumer: String, _ deliveries: [NewDelivery], _ now: Int64) async throws -> Int {
        guard !deliveries.isEmpty else { return 0 }
        let rows = try await connection.query(
            """
            WITH created AS (
                INSERT INTO chorus_event_pending (consumer, seq, partition_key, part, next_attempt_at)
                SELECT \(consumer), d.seq, CASE WHEN d.keyed THEN d.key END, d.part, \(now)
                FROM unnest(\(deliveries.map(\.sequence)), \(deliveries.map { $0.partitionKey ?? "" }), \(deliveries.map { $0.partitionKey != nil }),
                            \(deliveries.map(\.partition))) AS d(seq, key, keyed, part)
                ON CONFLICT (consumer, seq) DO NOTHING RETURNING 1)
            SELECT count(*) FROM created
            """, logger: logger)
        return try await Self.first(Int.self, rows) ?? 0
    }

    /// The bindings of a selection: ids (nil: any), consumer (nil: any).
    private static func condition(_ selection: DeadLetterSelection) -> ([Int64]?, String?) {
        switch selection {
        case .ids(let ids): (ids, nil)
        case .consumer(let consumer): (nil, consumer)
        case .all: (nil, nil)
        }
    }

    private static func first<T: PostgresDecodable & Sendable>(_ type: T.Type, _ rows: PostgresRowSequence) async throws -> T? {
        for try await value in rows.decode(T.self) { return value }
        return nil
    }

    /// Runs a `SELECT count(*) …` statement.
    private func count(_ query: PostgresQuery) async throws -> Int {
        try await Self.first(Int.self, self.client.query(query, logger: self.logger)) ?? 0
    }

    private func transaction<T: Sendable>(_ body: (PostgresConnection, Logger) async throws -> T) async throws -> T {
        try await self.client.withTransaction(logger: self.logger) { connection in try await body(connection, self.logger) }
    }

    /// Every call is bounded: while PostgreSQL is away the pool waits for a connection (up to a
    /// minute), and the bus answers an error instead (docs/architecture.md, "ChorusPostgres").
    /// An append that times out may still commit: the publisher's retry is then a duplicate.
    private func bounded<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws(StoreError) -> T {
        do {
            return try await PostgresUnavailable.withTimeout(self.timeout, "PostgreSQL (event store)", body)
        } catch {
            throw StoreError.postgres(error, in: "event store")
        }
    }
}
