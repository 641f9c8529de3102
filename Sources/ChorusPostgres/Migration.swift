import Crypto

/// One versioned change of the shared store's schema: statements run in order, in the same
/// transaction as every other pending migration, and recorded in `chorus_migrations`.
///
/// A migration that has shipped is never edited or removed (its checksum is checked at every
/// start); a change is a new migration appended to ``all`` (Migrations.swift).
public struct Migration: Sendable, Equatable {
    /// 1, 2, 3, …: the order they are applied in.
    public let version: Int
    /// A short name for logs and `chorus_migrations`, e.g. `cluster`.
    public let name: String
    /// SQL statements, one each (the extended query protocol runs one statement at a time).
    public let statements: [String]

    /// A migration; ``all`` lists the shipped ones.
    public init(version: Int, name: String, statements: [String]) {
        self.version = version
        self.name = name
        self.statements = statements
    }

    /// SHA-256 of the statements, hex: what `chorus_migrations` records to notice an edit.
    public var checksum: String {
        var hash = SHA256()
        for statement in self.statements {
            hash.update(data: Array(statement.utf8))
            hash.update(data: [0])
        }
        return hash.finalize().map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}

/// A migration recorded in the database's `chorus_migrations` table.
public struct AppliedMigration: Sendable, Equatable {
    /// The migration's version.
    public let version: Int
    /// Its name when it was applied.
    public let name: String
    /// The ``Migration/checksum`` of its statements when it was applied.
    public let checksum: String

    /// A row of `chorus_migrations`.
    public init(version: Int, name: String, checksum: String) {
        self.version = version
        self.name = name
        self.checksum = checksum
    }
}
