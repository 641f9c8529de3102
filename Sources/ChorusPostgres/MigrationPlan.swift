/// Which migrations to apply, given those the database records: a pure decision, so every
/// refusal is tested without a server.
///
/// The applied ones must be exactly the first known ones, with the same checksums; the rest
/// are pending. Anything else stops start-up rather than guess.
enum MigrationPlan {
    static func pending(known: [Migration], applied: [AppliedMigration]) throws(MigrationError) -> [Migration] {
        try Self.validate(known)
        let newest = known.last?.version ?? 0
        for record in applied.sorted(by: { $0.version < $1.version }) {
            guard record.version >= 1, record.version <= newest else {
                throw MigrationError(
                    .databaseNewer,
                    "the database has migration \(record.version) ('\(record.name)'), but this chorus knows migrations up to \(newest): "
                        + "a newer chorus migrated it; run that version (or newer) on every node"
                )
            }
            let migration = known[record.version - 1]
            guard migration.checksum == record.checksum else {
                throw MigrationError(
                    .checksumMismatch,
                    "migration \(record.version) ('\(record.name)') in the database differs from this chorus's "
                        + "(checksum \(record.checksum.prefix(12))… applied, \(migration.checksum.prefix(12))… here): "
                        + "an applied migration must never change; add a new one instead"
                )
            }
        }
        let versions = applied.map(\.version).sorted()
        guard versions == Array(1..<(versions.count + 1)) else {
            throw MigrationError(
                .invalidList,
                "the database records migrations \(versions.map(String.init).joined(separator: ", ")), not 1 to N: "
                    + "chorus_migrations was edited by hand"
            )
        }
        return Array(known.dropFirst(versions.count))
    }

    /// Versions 1, 2, 3, … in order, each with a name and at least one statement.
    static func validate(_ known: [Migration]) throws(MigrationError) {
        for (index, migration) in known.enumerated() {
            guard migration.version == index + 1, !migration.name.isEmpty, !migration.statements.isEmpty else {
                throw MigrationError(
                    .invalidList,
                    "migration at position \(index + 1) has version \(migration.version) and name '\(migration.name)': "
                        + "versions must be 1, 2, 3, … in order, each with a name and statements"
                )
            }
        }
    }
}
