import ChorusCore
import GRDB

/// Each event type's count, bytes, newest sequence and newest timestamp, kept as the log
/// changes: `stats()` (behind `/api/events/stats`, `topics`, `topic-stats` and every read of
/// `log` by topic) summed the whole log per call, about a second per million events.
///
/// Appends add their shares in memory; an append writes what has gathered to the table about
/// once a second (a row per type) with the sequence counted through, so the per-batch upserts
/// (5–10 % of the acknowledged rate) are paid once a second, and a store opened after a crash
/// counts the events after that sequence again. A retention pass writes what has gathered,
/// then subtracts what it removes, counted before it removes it. The newest timestamp is the
/// largest appended: retention does not lower it (it removes the oldest events, whose
/// timestamps are the oldest unless publishers sent them out of order).
enum SQLiteEventTypeStats {
    /// A batch's share of one type.
    struct Share {
        var count = 0
        var bytes = 0
        var newestSequence: Int64 = 0
        var newestTimestamp: Int64 = .min

        mutating func add(sequence: Int64, timestamp: Int64, size: Int) {
            self.count += 1
            self.bytes += size
            self.newestSequence = max(self.newestSequence, sequence)
            self.newestTimestamp = max(self.newestTimestamp, timestamp)
        }
    }

    /// Creates the tables (a file from before them has its whole log counted), then counts
    /// what was appended after the last write of the shares (a crash lost them).
    static func open(_ db: Database) throws {
        // Idempotent, as the schema is. A new table is empty and counted through 0, so what
        // follows counts the whole log; a table that was written by every append (a development
        // build's, which had no mark) already counts it.
        let existed = try db.tableExists("chorus_event_type_stats")
        try db.execute(sql: """
            CREATE TABLE IF NOT EXISTS chorus_event_type_stats (
                type TEXT PRIMARY KEY, count INTEGER NOT NULL, bytes INTEGER NOT NULL,
                newest_seq INTEGER NOT NULL, newest_ts INTEGER NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS chorus_event_stats_mark (id INTEGER PRIMARY KEY CHECK (id = 1), counted_through INTEGER NOT NULL);
            """)
        try db.execute(
            sql: "INSERT OR IGNORE INTO chorus_event_stats_mark (id, counted_through) SELECT 1, CASE WHEN ? THEN coalesce(max(seq), 0) ELSE 0 END FROM chorus_events",
            arguments: [existed])
        let counted = try Int64.fetchOne(db, sql: "SELECT counted_through FROM chorus_event_stats_mark WHERE id = 1") ?? 0
        var shares: [String: Share] = [:]
        var through = counted
        for row in try Row.fetchAll(db, sql: "SELECT type, count(*), sum(size), max(seq), max(ts) FROM chorus_events WHERE seq > ? GROUP BY type", arguments: [counted]) {
            shares[row[0]] = Share(count: row[1], bytes: row[2], newestSequence: row[3], newestTimestamp: row[4])
            through = max(through, row[3])
        }
        try Self.write(shares, through: through, db)
    }

    /// Adds gathered shares to the table, counted through `sequence`.
    static func write(_ shares: [String: Share], through sequence: Int64, _ db: Database) throws {
        try Self.add(shares, db)
        try db.cachedStatement(sql: "UPDATE chorus_event_stats_mark SET counted_through = max(counted_through, ?) WHERE id = 1").execute(arguments: [sequence])
    }

    /// `shares` with `more` added.
    static func merge(_ shares: [String: Share], _ more: [String: Share]) -> [String: Share] {
        shares.merging(more) { a, b in
            Share(count: a.count + b.count, bytes: a.bytes + b.bytes, newestSequence: max(a.newestSequence, b.newestSequence),
                  newestTimestamp: max(a.newestTimestamp, b.newestTimestamp))
        }
    }

    /// Adds a batch's shares.
    private static func add(_ shares: [String: Share], _ db: Database) throws {
        let upsert = try db.cachedStatement(sql: """
            INSERT INTO chorus_event_type_stats (type, count, bytes, newest_seq, newest_ts) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (type) DO UPDATE SET count = count + excluded.count, bytes = bytes + excluded.bytes,
                newest_seq = max(newest_seq, excluded.newest_seq), newest_ts = max(newest_ts, excluded.newest_ts)
            """)
        for (type, share) in shares {
            try upsert.execute(arguments: [type, share.count, share.bytes, share.newestSequence, share.newestTimestamp])
        }
    }

    /// Subtracts the events `condition` selects (about to be removed), per type; a type with
    /// none left goes.
    static func subtract(where condition: String, _ arguments: StatementArguments, _ db: Database) throws {
        try db.execute(
            sql: """
                UPDATE chorus_event_type_stats
                SET count = chorus_event_type_stats.count - removed.n, bytes = chorus_event_type_stats.bytes - removed.total
                FROM (SELECT type, count(*) AS n, sum(size) AS total FROM chorus_events WHERE \(condition) GROUP BY type) AS removed
                WHERE chorus_event_type_stats.type = removed.type
                """,
            arguments: arguments)
        try db.execute(sql: "DELETE FROM chorus_event_type_stats WHERE count <= 0")
    }

    /// The log's stats: totals from the types (the table's and `gathered`), extent from the
    /// log's ends.
    static func stats(_ db: Database, gathered: [String: Share]) throws -> EventLogStats {
        var shares: [String: Share] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT type, count, bytes, newest_seq, newest_ts FROM chorus_event_type_stats") {
            shares[row[0]] = Share(count: row[1], bytes: row[2], newestSequence: row[3], newestTimestamp: row[4])
        }
        let types = Self.merge(shares, gathered).mapValues {
            EventLogStats.TypeStats(count: $0.count, bytes: $0.bytes, newestSequence: $0.newestSequence, newestTimestamp: $0.newestTimestamp)
        }
        let oldest = try Row.fetchOne(db, sql: "SELECT seq, ts FROM chorus_events ORDER BY seq LIMIT 1")
        let last = try SQLiteEventStore.lastSequence(db)
        return EventLogStats(
            count: types.values.reduce(0) { $0 + $1.count }, bytes: types.values.reduce(0) { $0 + $1.bytes },
            oldestSequence: oldest?[0], oldestTimestamp: oldest?[1], lastSequence: last,
            newestTimestamp: types.values.map(\.newestTimestamp).max(), types: types)
    }
}
