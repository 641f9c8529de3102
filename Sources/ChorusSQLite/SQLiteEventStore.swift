public import ChorusCore
import Foundation
import GRDB
import NIOCore
import Synchronization

/// The event bus's store on one node: its own SQLite file in WAL mode (`events.sqlite` beside
/// the history), every append one transaction committed before it returns.
///
/// `synchronous = FULL` by default: an acknowledged event survives a power loss, not only the
/// process being killed (NORMAL's guarantee); batches amortize the fsync. One writer, so the
/// sequence (SQLite's AUTOINCREMENT rowid: never reused) follows commit order, the idempotency
/// check cannot race, and a consumer's fan-out is serialized. Leases work as on PostgreSQL,
/// though one node holds them all.
///
/// The ids within the idempotency window are kept in memory (``EventIDWindow``), as JetStream
/// keeps its duplicate window, and found again in the log after a restart (each event keeps the
/// time it was appended): an id in an index of its own cost each append a page write of its own.
/// Past ``idsInMemory`` the oldest go to the table `chorus_event_ids`, as do the ids of events
/// retention removes within the window; that table is read only while it holds any.
public final class SQLiteEventStore: EventStore, BlockingEventAppend {
    private let pool: DatabasePool
    /// The database file.
    public let path: String
    /// How many ids of the window stay in memory (about 140 bytes each); the retention pass
    /// moves older ones to the table.
    public let idsInMemory: Int
    /// How many of those the retention pass moves to the table in one transaction.
    public let idsPerMove: Int
    private let ids = Mutex(IDs())

    /// What appends keep in memory: the window's ids (and whether the table may hold some too),
    /// and the types the newest block is known to hold (``SQLiteEventTypeBlocks``).
    private struct IDs {
        var window = EventIDWindow()
        /// Whether the log's ids were read back (at the first append, which knows the window).
        var loaded = false
        var onDisk = false
        var block: Int64 = -1
        var blockTypes: Set<String> = []
        /// Appends' per-type shares not yet written to the table (``SQLiteEventTypeStats``).
        var stats = GatheredStats()
    }

    /// What appends gathered for the stats table since it was last written.
    private struct GatheredStats {
        var shares: [String: SQLiteEventTypeStats.Share] = [:]
        var through: Int64 = 0
        var events = 0
        var writtenAt = ContinuousClock.now

        /// Whether an append of `count` more events writes them to the table.
        func due(adding count: Int) -> Bool {
            self.events + count >= SQLiteEventStore.statsEvents || ContinuousClock.now - self.writtenAt >= SQLiteEventStore.statsInterval
        }
    }

    /// The stats table is written when this many events have gathered, or this long after it
    /// last was.
    static let statsEvents = 10_000
    static let statsInterval = Duration.seconds(1)

    /// Opens (or creates) the database at `path`.
    public init(path: String, sync: SQLiteMessageStore.Sync = .full, idsInMemory: Int = 1_000_000, idsPerMove: Int = 10_000) throws(StoreError) {
        self.path = path
        self.idsInMemory = idsInMemory
        self.idsPerMove = max(1, idsPerMove)
        self.pool = try SQLiteFile.pool("event", at: path, sync: sync, schema: Self.schema + SQLiteEventTypeBlocks.schema)
        try SQLiteFile.open("event", at: path) {
            try self.pool.write { db in
                // A file from before `appended_at`: its ids are all in chorus_event_ids.
                if try !db.columns(in: "chorus_events").contains(where: { $0.name == "appended_at" }) {
                    try db.execute(sql: "ALTER TABLE chorus_events ADD COLUMN appended_at INTEGER")
                }
                try SQLiteEventTypeBlocks.migrate(db)
                try SQLiteEventTypeStats.open(db)
            }
        }
    }

    /// Closes the connections; the WAL is checkpointed into the file.
    public func close() throws {
        try self.pool.close()
    }

    private static let schema = """
        CREATE TABLE IF NOT EXISTS chorus_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, type TEXT NOT NULL, data BLOB NOT NULL,
            ts INTEGER NOT NULL, correlation_id TEXT, partition_key TEXT, headers TEXT, size INTEGER NOT NULL,
            appended_at INTEGER);
        CREATE INDEX IF NOT EXISTS chorus_events_ts ON chorus_events (ts);
        CREATE TABLE IF NOT EXISTS chorus_event_ids (
            event_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, ts INTEGER NOT NULL, seen_at INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS chorus_event_ids_seen ON chorus_event_ids (seen_at);
        CREATE TABLE IF NOT EXISTS chorus_event_cursors (consumer TEXT PRIMARY KEY, fanned_out INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS chorus_event_pending (
            consumer TEXT NOT NULL, seq INTEGER NOT NULL, partition_key TEXT, part INTEGER NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL, last_error TEXT,
            PRIMARY KEY (consumer, seq));
        CREATE INDEX IF NOT EXISTS chorus_event_pending_seq ON chorus_event_pending (seq);
        CREATE TABLE IF NOT EXISTS chorus_event_dead (
            id INTEGER PRIMARY KEY AUTOINCREMENT, consumer TEXT NOT NULL, seq INTEGER NOT NULL,
            partition_key TEXT, part INTEGER NOT NULL, failed_at INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS chorus_event_dead_consumer ON chorus_event_dead (consumer, id);
        CREATE INDEX IF NOT EXISTS chorus_event_dead_seq ON chorus_event_dead (seq);
        CREATE TABLE IF NOT EXISTS chorus_event_attempts (
            id INTEGER PRIMARY KEY AUTOINCREMENT, consumer TEXT NOT NULL, seq INTEGER NOT NULL, number INTEGER NOT NULL,
            at INTEGER NOT NULL, status INTEGER, error TEXT NOT NULL, duration INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS chorus_event_attempts_delivery ON chorus_event_attempts (consumer, seq, id);
        CREATE TABLE IF NOT EXISTS chorus_event_leases (
            consumer TEXT NOT NULL, part INTEGER NOT NULL, node TEXT, expires_at INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (consumer, part));
        CREATE TABLE IF NOT EXISTS chorus_event_definitions (
            kind TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL,
            created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (kind, name));
        """

    // MARK: - The log

    /// Appends `events` in one transaction, committed durably before it returns, in order.
    /// An `eventID` appended less than `idempotencyWindow` ms before `now` (or earlier in the
    /// batch) is not appended again: its receipt is the original's, `duplicate: true`.
    public func append(_ events: [Event], now: Int64, idempotencyWindow: Int64) async throws -> [EventReceipt] {
        try await self.write { db in try self.append(events, now: now, idempotencyWindow: idempotencyWindow, db) }
    }

    /// See ``BlockingEventAppend/appendBlocking(_:now:idempotencyWindow:)``.
    public func appendBlocking(_ events: [Event], now: Int64, idempotencyWindow: Int64) throws -> [EventReceipt] {
        try self.pool.storeWriteBlocking("event") { db in try self.append(events, now: now, idempotencyWindow: idempotencyWindow, db) }
    }

    /// The append's transaction body. The new ids join the window once the transaction has
    /// committed (before the writer's next transaction), never for a rolled-back one.
    private func append(_ events: [Event], now: Int64, idempotencyWindow: Int64, _ db: Database) throws -> [EventReceipt] {
        let cutoff = now - idempotencyWindow
        let onDisk = try self.ids.withLock { ids in
            if !ids.loaded { try self.load(&ids, after: cutoff, db) }
            ids.window.forget(seenBefore: cutoff + 1)
            return ids.onDisk
        }
        let seenOnDisk = onDisk ? try db.cachedStatement(sql: "SELECT seq, ts FROM chorus_event_ids WHERE event_id = ? AND seen_at > ?") : nil
        let insert = try db.cachedStatement(sql: """
            INSERT INTO chorus_events (event_id, type, data, ts, correlation_id, partition_key, headers, size, appended_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        var receipts: [EventReceipt] = []
        receipts.reserveCapacity(events.count)
        var appended: [String: EventIDWindow.Original] = [:]
        var order: [String] = []
        var (block, blockTypes) = self.ids.withLock { ($0.block, $0.blockTypes) }
        var shares: [String: SQLiteEventTypeStats.Share] = [:]
        for event in events {
            if let original = try appended[event.eventID] ?? self.ids.withLock({ $0.window.original(of: event.eventID) })
                ?? seenOnDisk.flatMap({ try Row.fetchOne($0, arguments: [event.eventID, cutoff]) }).map({ EventIDWindow.Original(sequence: $0[0], timestamp: $0[1]) })
            {
                receipts.append(EventReceipt(sequence: original.sequence, eventID: event.eventID, timestamp: original.timestamp, duplicate: true))
                continue
            }
            try insert.execute(arguments: [
                event.eventID, event.type, Data(event.data.readableBytesView), event.timestamp,
                event.correlationID, event.partitionKey, EventHeaders.encode(event.headers), event.storedSize, now,
            ])
            let sequence = db.lastInsertedRowID
            if SQLiteEventTypeBlocks.block(of: sequence) != block {
                block = SQLiteEventTypeBlocks.block(of: sequence)
                blockTypes = []
            }
            if blockTypes.insert(event.type).inserted {
                try SQLiteEventTypeBlocks.record(db, block: block, type: event.type)
            }
            shares[event.type, default: .init()].add(sequence: sequence, timestamp: event.timestamp, size: event.storedSize)
            appended[event.eventID] = EventIDWindow.Original(sequence: sequence, timestamp: event.timestamp)
            order.append(event.eventID)
            receipts.append(EventReceipt(sequence: sequence, eventID: event.eventID, timestamp: event.timestamp, duplicate: false))
        }
        if !order.isEmpty {
            let last = appended[order[order.count - 1]]!.sequence
            let gathered = self.ids.withLock { $0.stats }
            let writes = gathered.due(adding: order.count)
            if writes { try SQLiteEventTypeStats.write(SQLiteEventTypeStats.merge(gathered.shares, shares), through: last, db) }
            db.afterNextTransaction { [appended, order, block, blockTypes, shares] _ in
                self.ids.withLock { ids in
                    for id in order { ids.window.remember(id, as: appended[id]!, seenAt: now) }
                    (ids.block, ids.blockTypes) = (block, blockTypes)
                    if writes {
                        ids.stats = GatheredStats()
                    } else {
                        ids.stats.shares = SQLiteEventTypeStats.merge(ids.stats.shares, shares)
                        ids.stats.through = last
                        ids.stats.events += order.count
                    }
                }
            }
        }
        return receipts
    }

    /// Reads back the ids the log appended after `cutoff` (newest first, until a minute before
    /// it, in case the clock stepped back), and whether the table holds any within the window.
    /// More than ``idsInMemory`` stay until the next retention pass.
    private func load(_ ids: inout IDs, after cutoff: Int64, _ db: Database) throws {
        let rows = try Row.fetchCursor(db, sql: "SELECT event_id, seq, ts, appended_at FROM chorus_events ORDER BY seq DESC")
        while let row = try rows.next() {
            guard let at: Int64 = row[3], at > cutoff - 60_000 else { break }
            if at > cutoff { ids.window.rememberEarlier(row[0], as: EventIDWindow.Original(sequence: row[1], timestamp: row[2]), seenAt: at) }
        }
        ids.loaded = true
        let kept = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM chorus_event_ids WHERE seen_at > ?)", arguments: [cutoff])
        ids.onDisk = ids.onDisk || kept == true
    }

    /// Copies the ids of the log's events that `condition` selects into the table.
    private static func keepIDs(_ db: Database, where condition: String, _ arguments: StatementArguments) throws {
        try db.execute(
            sql: """
                INSERT INTO chorus_event_ids (event_id, seq, ts, seen_at)
                SELECT event_id, seq, ts, appended_at FROM chorus_events WHERE appended_at IS NOT NULL AND (\(condition))
                ON CONFLICT (event_id) DO UPDATE SET seq = excluded.seq, ts = excluded.ts, seen_at = excluded.seen_at
                WHERE excluded.seq > chorus_event_ids.seq
                """,
            arguments: arguments)
    }

    /// Events the query selects, in its order.
    public func events(_ query: EventQuery) async throws -> [LoggedEvent] {
        if let types = query.types, query.since == nil, query.until == nil {
            return try await self.read { db in
                try SQLiteEventTypeBlocks.events(db, query, types: types, select: Self.selectEvent).map { Self.loggedEvent($0) }
            }
        }
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let after = query.afterSequence { conditions.append("seq > ?"); arguments += [after] }
        if let before = query.beforeSequence { conditions.append("seq < ?"); arguments += [before] }
        if let since = query.since { conditions.append("ts >= ?"); arguments += [since] }
        if let until = query.until { conditions.append("ts < ?"); arguments += [until] }
        if let types = query.types {
            conditions.append("type IN (\(Array(repeating: "?", count: types.count).joined(separator: ", ")))")
            arguments += StatementArguments(types)
        }
        let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let order = query.order == .oldestFirst ? "ASC" : "DESC"
        arguments += [query.limit]
        let sql = "\(Self.selectEvent) FROM chorus_events\(filter) ORDER BY seq \(order) LIMIT ?"
        return try await self.read { [arguments] db in try Row.fetchAll(db, sql: sql, arguments: arguments).map { Self.loggedEvent($0) } }
    }

    /// Size, extent and per type counts of the log.
    public func stats() async throws -> EventLogStats {
        // On the writer, so the table and what appends gathered are seen at one moment.
        try await self.write { db in try SQLiteEventTypeStats.stats(db, gathered: self.ids.withLock { $0.stats.shares }) }
    }

    /// The last sequence appended (0 before the first), read from a snapshot: SQLite's
    /// counter of the log's `AUTOINCREMENT` key, which an emptied log keeps.
    public func lastSequence() async throws -> Int64 {
        try await self.read { db in try Self.lastSequence(db) }
    }

    static func lastSequence(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'chorus_events'") ?? 0
    }

    /// Removes what `retention` allows, except events a pending delivery or a dead letter
    /// refers to; returns how many events it removed.
    ///
    /// How far the count and size limits reach is found before the write (``retentionCut(_:)``):
    /// measuring a log of a million events inside it held every publish for a second, once a
    /// minute. What an append adds meanwhile is measured by the next pass.
    public func trim(_ retention: EventRetention, now: Int64) async throws -> Int {
        let cut = try await self.retentionCut(retention)
        let older = retention.maxAge.map { now - $0 } ?? .min
        return try await self.write { db in
            let kept = """
                NOT EXISTS (SELECT 1 FROM chorus_event_pending WHERE chorus_event_pending.seq = chorus_events.seq)
                AND NOT EXISTS (SELECT 1 FROM chorus_event_dead WHERE chorus_event_dead.seq = chorus_events.seq)
                """
            // Ids the window may still hold outlive their events in the table (all of them before
            // the first append has read the window back; the retention pass forgets the old).
            // What appends gathered goes to the stats table first, so what is removed is there.
            let (loaded, oldest, gathered) = self.ids.withLock { ($0.loaded, $0.window.oldestSequence, $0.stats) }
            if gathered.events > 0 {
                try SQLiteEventTypeStats.write(gathered.shares, through: gathered.through, db)
                db.afterNextTransaction { _ in self.ids.withLock { $0.stats = GatheredStats() } }
            }
            var trimmed = 0
            // One limit at a time, each on its index (an `OR` of the two scanned the whole log).
            for (limit, bound) in [("seq <= ?", cut), ("ts < ?", older)] {
                let removed = "\(limit) AND \(kept)"
                if !loaded || oldest != nil {
                    try Self.keepIDs(db, where: "seq >= ? AND \(removed)", [loaded ? oldest! : 0, bound])
                    if db.changesCount > 0 {
                        db.afterNextTransaction { _ in self.ids.withLock { $0.onDisk = true } }
                    }
                }
                try SQLiteEventTypeStats.subtract(where: removed, [bound], db)
                try db.execute(sql: "DELETE FROM chorus_events WHERE \(removed)", arguments: [bound])
                trimmed += db.changesCount
            }
            try SQLiteEventTypeBlocks.trim(db)
            return trimmed
        }
    }

    /// The highest sequence the count and size limits of `retention` remove (0: none). The
    /// log's totals are its stats (a row per type, read on the writer with what appends gathered:
    /// exact, and milliseconds where summing a million sizes took about a second); only a log over
    /// a limit is walked, oldest first in a snapshot off the writer, as far as the excess. Appends
    /// after the totals add newer events only, so the cut never reaches past what the limits allow.
    private func retentionCut(_ retention: EventRetention) async throws -> Int64 {
        guard retention.limitsCountOrSize, let excess = retention.excess(of: try await self.stats()) else { return 0 }
        return try await self.read { db in
            var (excessEvents, excessBytes) = excess
            var cut: Int64 = 0
            let rows = try Row.fetchCursor(db, sql: "SELECT seq, size FROM chorus_events ORDER BY seq")
            while excessEvents > 0 || excessBytes > 0, let row = try rows.next() {
                excessEvents -= 1
                excessBytes -= row[1] as Int
                cut = row[0]
            }
            return cut
        }
    }

    /// Forgets event ids first appended before `seenBefore` (past the idempotency window);
    /// returns how many. Then moves the oldest ids past ``idsInMemory`` to the table (read from
    /// the log: they are a range of its sequences), ``idsPerMove`` a transaction, so an append
    /// waits for one move at most (a million random keys at once held the writer over a
    /// second); memory changes once each has committed.
    public func forgetEventIDs(seenBefore time: Int64) async throws -> Int {
        let forgotten = try await self.write { db in
            try db.execute(sql: "DELETE FROM chorus_event_ids WHERE seen_at < ?", arguments: [time])
            let deleted = db.changesCount
            let onDisk = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM chorus_event_ids)") ?? false
            let forgotten = self.ids.withLock { ids in ids.window.forget(seenBefore: time) }
            db.afterNextTransaction { _ in self.ids.withLock { $0.onDisk = onDisk } }
            return deleted + forgotten
        }
        while try await self.write({ db in try self.moveOldestIDs(db) }) {}
        return forgotten
    }

    /// Moves the oldest ``idsPerMove`` ids past ``idsInMemory`` to the table; whether any moved.
    private func moveOldestIDs(_ db: Database) throws -> Bool {
        guard let excess = self.ids.withLock({ $0.window.excess(over: self.idsInMemory, limit: self.idsPerMove) }) else { return false }
        try Self.keepIDs(db, where: "seq BETWEEN ? AND ?", [excess.lowerBound, excess.upperBound])
        db.afterNextTransaction { _ in
            self.ids.withLock { ids in
                ids.window.forget(throughSequence: excess.upperBound)
                ids.onDisk = true
            }
        }
        return true
    }

    // MARK: - Deliveries

    /// The highest sequence fanned out to `consumer`; 0 before its first fan-out.
    public func cursor(of consumer: String) async throws -> Int64 {
        try await self.read { db in try Self.cursor(db, consumer) }
    }

    /// In one transaction, serialized per consumer: creates `deliveries` (due at `now`) and
    /// moves the cursor to `through`. Deliveries at or below the cursor are skipped and the
    /// cursor never moves back, so running it again (after a crash, or on another node) creates
    /// nothing twice. Returns the cursor afterwards.
    public func fanOut(consumer: String, through sequence: Int64, deliveries: [NewDelivery], now: Int64) async throws -> Int64 {
        try await self.write { db in
            let cursor = try Self.cursor(db, consumer)
            guard sequence > cursor else { return cursor }
            _ = try Self.insert(db, consumer, deliveries.filter { $0.sequence > cursor && $0.sequence <= sequence }, now)
            try db.execute(
                sql: "INSERT INTO chorus_event_cursors (consumer, fanned_out) VALUES (?, ?) ON CONFLICT (consumer) DO UPDATE SET fanned_out = excluded.fanned_out",
                arguments: [consumer, sequence])
            return sequence
        }
    }

    /// Creates `deliveries` due at `now`, whatever the cursor (replay); one already pending is
    /// kept as it is. Returns how many it created.
    public func enqueue(consumer: String, deliveries: [NewDelivery], now: Int64) async throws -> Int {
        try await self.write { db in try Self.insert(db, consumer, deliveries, now) }
    }

    /// Pending deliveries of `consumer` in `partitions` (nil: all), due by `dueBy` (nil: due or
    /// not, so an ordered consumer sees the keys it must hold), by sequence, at most `limit`.
    public func pending(consumer: String, partitions: [Int]?, dueBy: Int64?, limit: Int) async throws -> [PendingDelivery] {
        var sql = "SELECT \(Self.eventColumns), p.part, p.attempts, p.next_attempt_at, p.last_error FROM chorus_event_pending p JOIN chorus_events e ON e.seq = p.seq WHERE p.consumer = ?"
        var arguments: StatementArguments = [consumer]
        if let partitions {
            sql += " AND p.part IN (\(partitions.map(String.init).joined(separator: ", ")))"
        }
        if let dueBy {
            sql += " AND p.next_attempt_at <= ?"
            arguments += [dueBy]
        }
        arguments += [limit]
        return try await self.read { [sql, arguments] db in
            try Row.fetchAll(db, sql: sql + " ORDER BY p.seq LIMIT ?", arguments: arguments).map { row in
                PendingDelivery(
                    consumer: consumer, event: Self.loggedEvent(row), partition: row[8], attempts: row[9],
                    nextAttemptAt: row[10], lastError: row[11])
            }
        }
    }

    /// Records attempts' outcomes in one transaction (one fsync), in order, each as `delivered`
    /// or `failed` records it alone; one result per record.
    public func record(consumer: String, _ records: [DeliveryRecord]) async throws -> [RecordedOutcome] {
        guard !records.isEmpty else { return [] }
        return try await self.write { db in
            try records.map { record in
                switch record {
                case .delivered(let sequence): .delivered(removed: try Self.delivered(db, consumer, sequence))
                case .failed(let sequence, let attempt, let retryAt): .failed(try Self.failed(db, consumer, sequence, attempt, retryAt))
                }
            }
        }
    }

    /// The delivery succeeded: removes it and its attempts. False when it was not pending.
    private static func delivered(_ db: Database, _ consumer: String, _ sequence: Int64) throws -> Bool {
        try db.cachedStatement(sql: "DELETE FROM chorus_event_pending WHERE consumer = ? AND seq = ?").execute(arguments: [consumer, sequence])
        let removed = db.changesCount > 0
        try db.cachedStatement(sql: "DELETE FROM chorus_event_attempts WHERE consumer = ? AND seq = ?").execute(arguments: [consumer, sequence])
        return removed
    }

    /// Records a failed attempt (with the next attempt's number) and reschedules the delivery at
    /// `retryAt`, or, when `retryAt` is nil, moves it to the dead-letter queue at `attempt.at`.
    private static func failed(_ db: Database, _ consumer: String, _ sequence: Int64, _ attempt: DeliveryAttempt, _ retryAt: Int64?) throws -> FailureOutcome {
        let update = try db.cachedStatement(
            sql: "UPDATE chorus_event_pending SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE consumer = ? AND seq = ? RETURNING attempts")
        guard let attempts = try Int.fetchOne(update, arguments: [retryAt ?? attempt.at, attempt.error, consumer, sequence]) else { return .notPending }
        try db.cachedStatement(sql: "INSERT INTO chorus_event_attempts (consumer, seq, number, at, status, error, duration) VALUES (?, ?, ?, ?, ?, ?, ?)")
            .execute(arguments: [consumer, sequence, attempts, attempt.at, attempt.statusCode, attempt.error, attempt.duration])
        guard retryAt == nil else { return .rescheduled(attempts: attempts) }
        let dead = try db.cachedStatement(sql: """
            INSERT INTO chorus_event_dead (consumer, seq, partition_key, part, failed_at)
            SELECT consumer, seq, partition_key, part, ? FROM chorus_event_pending WHERE consumer = ? AND seq = ? RETURNING id
            """)
        let id = try Int64.fetchOne(dead, arguments: [attempt.at, consumer, sequence])!
        try db.cachedStatement(sql: "DELETE FROM chorus_event_pending WHERE consumer = ? AND seq = ?").execute(arguments: [consumer, sequence])
        return .deadLettered(id: id)
    }

    /// Dead letters of `consumer` (nil: all), with ids above `afterID`, by id, at most `limit`.
    public func deadLetters(consumer: String?, afterID: Int64?, limit: Int) async throws -> [DeadLetter] {
        try await self.read { db in
            let rows = try Row.fetchAll(
                db, sql: """
                    SELECT \(Self.eventColumns), d.part, d.id, d.consumer, d.failed_at FROM chorus_event_dead d JOIN chorus_events e ON e.seq = d.seq
                    WHERE (?1 IS NULL OR d.consumer = ?1) AND d.id > ?2 ORDER BY d.id LIMIT ?3
                    """,
                arguments: [consumer, afterID ?? 0, limit])
            let history = try db.cachedStatement(
                sql: "SELECT number, at, status, error, duration FROM chorus_event_attempts WHERE consumer = ? AND seq = ? ORDER BY id")
            return try rows.map { row in
                let event = Self.loggedEvent(row)
                let consumer: String = row[10]
                let attempts = try Row.fetchAll(history, arguments: [consumer, event.sequence]).map { attempt in
                    DeliveryAttempt(number: attempt[0], at: attempt[1], statusCode: attempt[2], error: attempt[3], duration: attempt[4])
                }
                return DeadLetter(id: row[9], consumer: consumer, event: event, partition: row[8], failedAt: row[11], attempts: attempts)
            }
        }
    }

    /// Moves the selected dead letters back to pending, due at `now`, attempts counted from 0
    /// again, their history kept. Returns how many.
    public func retryDeadLetters(_ selection: DeadLetterSelection, now: Int64) async throws -> Int {
        try await self.write { db in
            let (condition, arguments) = Self.condition(selection)
            try db.execute(
                sql: """
                    INSERT INTO chorus_event_pending (consumer, seq, partition_key, part, next_attempt_at)
                    SELECT consumer, seq, partition_key, part, ? FROM chorus_event_dead WHERE \(condition) ORDER BY id
                    ON CONFLICT (consumer, seq) DO NOTHING
                    """,
                arguments: [now] + arguments)
            try db.execute(sql: "DELETE FROM chorus_event_dead WHERE \(condition)", arguments: arguments)
            return db.changesCount
        }
    }

    /// Removes the selected dead letters and their attempts. Returns how many.
    public func clearDeadLetters(_ selection: DeadLetterSelection) async throws -> Int {
        try await self.write { db in
            let (condition, arguments) = Self.condition(selection)
            let removed = try Row.fetchAll(db, sql: "DELETE FROM chorus_event_dead WHERE \(condition) RETURNING consumer, seq", arguments: arguments)
            let forget = try db.cachedStatement(sql: """
                DELETE FROM chorus_event_attempts WHERE consumer = ?1 AND seq = ?2
                AND NOT EXISTS (SELECT 1 FROM chorus_event_pending WHERE consumer = ?1 AND seq = ?2)
                """)
            for row in removed {
                try forget.execute(arguments: [row[0] as String, row[1] as Int64])
            }
            return removed.count
        }
    }

    /// Every consumer with a cursor, pending deliveries or dead letters.
    public func consumerStates() async throws -> [ConsumerDeliveryState] {
        try await self.read { db in
            try Row.fetchAll(db, sql: EventStoreSQL.consumerStates).map { row in
                ConsumerDeliveryState(consumer: row[0], cursor: row[1], pending: row[2], oldestPendingSequence: row[3], deadLettered: row[4])
            }
        }
    }

    /// Forgets everything of `consumer`: cursor, deliveries, attempts, dead letters, leases.
    public func removeConsumerState(_ consumer: String) async throws {
        try await self.write { db in
            for table in ["chorus_event_cursors", "chorus_event_pending", "chorus_event_attempts", "chorus_event_dead", "chorus_event_leases"] {
                try db.execute(sql: "DELETE FROM \(table) WHERE consumer = ?", arguments: [consumer])
            }
        }
    }

    // MARK: - Leases

    /// Renews the leases `node` holds on `consumer`'s partitions (0..<`partitionCount`) and
    /// takes free or expired ones, up to `max` held in all, each until `now + ttl`; releases
    /// those beyond `max` (another node joined). Returns the partitions it holds, sorted.
    /// Two nodes never hold one partition at once.
    public func acquireLeases(consumer: String, partitionCount: Int, node: String, max: Int, ttl: Int64, now: Int64) async throws -> [Int] {
        try await self.write { db in
            let create = try db.cachedStatement(sql: "INSERT INTO chorus_event_leases (consumer, part) VALUES (?, ?) ON CONFLICT DO NOTHING")
            for partition in 0..<partitionCount {
                try create.execute(arguments: [consumer, partition])
            }
            // Its own first (renewed), then free or expired ones, in partition order.
            let held = try Int.fetchAll(
                db, sql: """
                    SELECT part FROM chorus_event_leases WHERE consumer = ?1 AND part < ?4 AND (node = ?2 OR node IS NULL OR expires_at <= ?3)
                    ORDER BY node IS NOT ?2, part LIMIT ?5
                    """,
                arguments: [consumer, node, now, partitionCount, max])
            try db.execute(
                sql: "UPDATE chorus_event_leases SET node = NULL, expires_at = 0 WHERE consumer = ? AND node = ?",
                arguments: [consumer, node])
            let take = try db.cachedStatement(sql: "UPDATE chorus_event_leases SET node = ?, expires_at = ? WHERE consumer = ? AND part = ?")
            for partition in held {
                try take.execute(arguments: [node, now + ttl, consumer, partition])
            }
            return held.sorted()
        }
    }

    /// Releases `node`'s leases (of `consumer`, or of all consumers when nil); returns how many.
    public func releaseLeases(node: String, consumer: String?) async throws -> Int {
        try await self.write { db in
            try db.execute(
                sql: "UPDATE chorus_event_leases SET node = NULL, expires_at = 0 WHERE node = ?1 AND (?2 IS NULL OR consumer = ?2)",
                arguments: [node, consumer])
            return db.changesCount
        }
    }

    // MARK: - Definitions

    /// Saves `body` as the definition `name` of `kind`, replacing one (its creation time kept).
    public func saveDefinition(_ kind: StoredDefinition.Kind, name: String, body: String, now: Int64) async throws {
        try await self.write { db in
            try db.execute(
                sql: """
                    INSERT INTO chorus_event_definitions (kind, name, body, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)
                    ON CONFLICT (kind, name) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at
                    """,
                arguments: [kind.rawValue, name, body, now])
        }
    }

    /// The definitions of `kind`, by name.
    public func definitions(_ kind: StoredDefinition.Kind) async throws -> [StoredDefinition] {
        try await self.read { db in
            try Row.fetchAll(
                db, sql: "SELECT name, body, created_at, updated_at FROM chorus_event_definitions WHERE kind = ? ORDER BY name",
                arguments: [kind.rawValue]
            ).map { StoredDefinition(kind: kind, name: $0[0], body: $0[1], createdAt: $0[2], updatedAt: $0[3]) }
        }
    }

    /// Removes one; false when there was none.
    public func removeDefinition(_ kind: StoredDefinition.Kind, name: String) async throws -> Bool {
        try await self.write { db in
            try db.execute(sql: "DELETE FROM chorus_event_definitions WHERE kind = ? AND name = ?", arguments: [kind.rawValue, name])
            return db.changesCount > 0
        }
    }

    // MARK: - Helpers

    private static let eventColumns = "e.seq, e.event_id, e.type, e.data, e.ts, e.correlation_id, e.partition_key, e.headers"
    private static let selectEvent = "SELECT seq, event_id, type, data, ts, correlation_id, partition_key, headers"

    /// Columns 0–7 of `eventColumns`.
    private static func loggedEvent(_ row: Row) -> LoggedEvent {
        let data: Data = row[3]
        return LoggedEvent(
            sequence: row[0],
            event: Event(
                eventID: row[1], type: row[2], data: ByteBuffer(bytes: data), timestamp: row[4],
                correlationID: row[5], partitionKey: row[6], headers: EventHeaders.decode(row[7])))
    }

    private static func cursor(_ db: Database, _ consumer: String) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT fanned_out FROM chorus_event_cursors WHERE consumer = ?", arguments: [consumer]) ?? 0
    }

    /// Inserts pending rows, keeping ones that exist; returns how many it created.
    private static func insert(_ db: Database, _ consumer: String, _ deliveries: [NewDelivery], _ now: Int64) throws -> Int {
        let insert = try db.cachedStatement(sql: """
            INSERT INTO chorus_event_pending (consumer, seq, partition_key, part, next_attempt_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (consumer, seq) DO NOTHING
            """)
        var created = 0
        for delivery in deliveries {
            try insert.execute(arguments: [consumer, delivery.sequence, delivery.partitionKey, delivery.partition, now])
            created += db.changesCount
        }
        return created
    }

    private static func condition(_ selection: DeadLetterSelection) -> (String, StatementArguments) {
        switch selection {
        case .ids(let ids): ("id IN (\(ids.map(String.init).joined(separator: ", ")))", [])
        case .consumer(let consumer): ("consumer = ?", [consumer])
        case .all: ("1", [])
        }
    }

    private func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        try await self.pool.storeRead("event", body)
    }

    private func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        try await self.pool.storeWrite("event", body)
    }
}
