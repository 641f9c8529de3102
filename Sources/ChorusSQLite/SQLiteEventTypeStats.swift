import ChorusCore
import GRDB

/// Each event type's count, bytes, newest sequence and newest timestamp, kept as the log
/// changes: `stats()` (behind `/api/events/stats`, `topics`, `topic-stats` and every read of
/// `log` by topic) summed the whole log per call, about a second per million events.
///
/// An append adds its batch's share (a row per type in the batch, on one small table); a
/// retention pass subtracts what it removes, counted before it removes it. The newest
/// timestamp is the largest appended: retention does not lower it (it removes the oldest
/// events, whose timestamps are the oldest unless publishers sent them out of order).
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

    /// Creates the table; a file from before it gets it filled from its log.
    static func migrate(_ db: Database) throws {
        guard try !db.tableExists("chorus_event_type_stats") else { return }
        try db.execute(sql: """
            CREATE TABLE chorus_event_type_stats (
                type TEXT PRIMARY KEY, count INTEGER NOT NULL, bytes INTEGER NOT NULL,
                newest_seq INTEGER NOT NULL, newest_ts INTEGER NOT NULL) WITHOUT ROWID;
            INSERT INTO chorus_event_type_stats (type, count, bytes, newest_seq, newest_ts)
                SELECT type, count(*), sum(size), max(seq), max(ts) FROM chorus_events GROUP BY type;
            """)
    }

    /// Adds a batch's shares.
    static func add(_ shares: [String: Share], _ db: Database) throws {
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

    /// The log's stats: totals from the types, extent from the log's ends.
    static func stats(_ db: Database) throws -> EventLogStats {
        var types: [String: EventLogStats.TypeStats] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT type, count, bytes, newest_seq, newest_ts FROM chorus_event_type_stats") {
            types[row[0]] = EventLogStats.TypeStats(count: row[1], bytes: row[2], newestSequence: row[3], newestTimestamp: row[4])
        }
        let oldest = try Row.fetchOne(db, sql: "SELECT seq, ts FROM chorus_events ORDER BY seq LIMIT 1")
        let last = try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'chorus_events'") ?? 0
        return EventLogStats(
            count: types.values.reduce(0) { $0 + $1.count }, bytes: types.values.reduce(0) { $0 + $1.bytes },
            oldestSequence: oldest?[0], oldestTimestamp: oldest?[1], lastSequence: last,
            newestTimestamp: types.values.map(\.newestTimestamp).max(), types: types)
    }
}
