import ChorusCore
import GRDB

/// Which blocks of 4,096 sequences of the event log hold events of which type: how the SQLite
/// log finds a type's events without an index on `(type, seq)`, whose entries for a batch of
/// events of 16 types land on 16 pages (three quarters of the pages an append wrote).
///
/// A (block, type) row is written once, by the first event of the type in the block, next to
/// the other rows of the newest block; its index by type, once per type per block. A read
/// of a type walks its blocks in order and reads each block's events of the type, until it has
/// its limit: a rare type costs a read of the blocks that hold it, not of the whole log.
enum SQLiteEventTypeBlocks {
    /// A block holds the sequences `block << shift` to `(block + 1) << shift - 1`.
    static let shift: Int64 = 12

    static let schema = """
        CREATE TABLE IF NOT EXISTS chorus_event_type_blocks (
            block INTEGER NOT NULL, type TEXT NOT NULL, PRIMARY KEY (block, type)) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS chorus_event_type_blocks_type ON chorus_event_type_blocks (type, block);
        """

    /// The block of `sequence`.
    static func block(of sequence: Int64) -> Int64 { sequence >> Self.shift }

    /// A file from before the blocks: its index on `(type, seq)` gives way to them.
    static func migrate(_ db: Database) throws {
        guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'chorus_events_type')") == true else { return }
        try db.execute(sql: "INSERT OR IGNORE INTO chorus_event_type_blocks (block, type) SELECT DISTINCT seq >> \(Self.shift), type FROM chorus_events")
        try db.execute(sql: "DROP INDEX chorus_events_type")
    }

    /// Records that `block` holds events of `type`.
    static func record(_ db: Database, block: Int64, type: String) throws {
        try db.cachedStatement(sql: "INSERT OR IGNORE INTO chorus_event_type_blocks (block, type) VALUES (?, ?)").execute(arguments: [block, type])
    }

    /// Forgets the blocks before the oldest event left (before the newest block when the log is
    /// empty: appends may still come to it).
    static func trim(_ db: Database) throws {
        try db.execute(sql: """
            DELETE FROM chorus_event_type_blocks WHERE block < (SELECT coalesce(min(seq),
                (SELECT seq FROM sqlite_sequence WHERE name = 'chorus_events'), 0) >> \(Self.shift) FROM chorus_events)
            """)
    }

    /// The rows `select` (a `SELECT … FROM chorus_events`) gives for the events of `types`
    /// within the query's sequence bounds (its times are not looked at), in its order, at most
    /// its limit.
    static func events(_ db: Database, _ query: EventQuery, types: [String], select: String) throws -> [Row] {
        guard query.afterSequence != .max, query.beforeSequence != .min else { return [] }
        let first = max((query.afterSequence ?? -1) + 1, 0)
        let last = (query.beforeSequence ?? .max) - 1
        guard !types.isEmpty, first <= last, query.limit > 0 else { return [] }
        let typeList = Array(repeating: "?", count: types.count).joined(separator: ", ")
        let order = query.order == .oldestFirst ? "ASC" : "DESC"
        let blocks = try Int64.fetchAll(
            db,
            sql: "SELECT DISTINCT block FROM chorus_event_type_blocks WHERE type IN (\(typeList)) AND block BETWEEN ? AND ? ORDER BY block \(order)",
            arguments: StatementArguments(types) + [Self.block(of: first), Self.block(of: last)])
        let sql = "\(select) FROM chorus_events WHERE seq BETWEEN ? AND ? AND type IN (\(typeList)) ORDER BY seq \(order) LIMIT ?"
        var rows: [Row] = []
        for block in blocks where rows.count < query.limit {
            let start = max(block << Self.shift, first)
            let end = min(((block + 1) << Self.shift) - 1, last)
            rows += try Row.fetchAll(db, sql: sql, arguments: [start, end] + StatementArguments(types) + [query.limit - rows.count])
        }
        return rows
    }
}
