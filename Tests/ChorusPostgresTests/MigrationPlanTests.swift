import Testing

@testable import ChorusPostgres

/// Which migrations apply, decided without a server: the applied ones must be the first known
/// ones, unchanged.
@Suite struct MigrationPlanTests {
    let known = [
        Migration(version: 1, name: "one", statements: ["CREATE TABLE a (x int)"]),
        Migration(version: 2, name: "two", statements: ["CREATE TABLE b (x int)", "CREATE INDEX ON b (x)"]),
    ]

    func record(_ migration: Migration) -> AppliedMigration {
        AppliedMigration(version: migration.version, name: migration.name, checksum: migration.checksum)
    }

    @Test func aNewDatabaseGetsEveryMigration() throws {
        #expect(try MigrationPlan.pending(known: self.known, applied: []) == self.known)
    }

    @Test func onlyTheMigrationsAfterTheAppliedOnesArePending() throws {
        #expect(try MigrationPlan.pending(known: self.known, applied: [self.record(self.known[0])]) == [self.known[1]])
        #expect(try MigrationPlan.pending(known: self.known, applied: self.known.map(self.record)).isEmpty)
    }

    @Test func anEditedMigrationIsRefused() {
        let edited = AppliedMigration(version: 1, name: "one", checksum: Migration(version: 1, name: "one", statements: ["CREATE TABLE a (y int)"]).checksum)
        #expect {
            try MigrationPlan.pending(known: self.known, applied: [edited])
        } throws: { error in
            (error as? MigrationError)?.code == .checksumMismatch && "\(error)".contains("migration 1 ('one')")
        }
    }

    @Test func aDatabaseMigratedByANewerChorusIsRefused() {
        let newer = AppliedMigration(version: 3, name: "three", checksum: "abc")
        #expect {
            try MigrationPlan.pending(known: self.known, applied: self.known.map(self.record) + [newer])
        } throws: { error in
            (error as? MigrationError)?.code == .databaseNewer && "\(error)".contains("up to 2")
        }
    }

    @Test func aGapInTheAppliedOnesIsRefused() {
        #expect {
            try MigrationPlan.pending(known: self.known, applied: [self.record(self.known[1])])
        } throws: { error in
            (error as? MigrationError)?.code == .invalidList
        }
    }

    @Test func theListMustCountFromOne() {
        let skipping = [self.known[0], Migration(version: 3, name: "three", statements: ["SELECT 1"])]
        #expect {
            try MigrationPlan.pending(known: skipping, applied: [])
        } throws: { error in
            (error as? MigrationError)?.code == .invalidList
        }
    }

    /// Shipped migrations are pinned: editing one fails here before it fails a deployment.
    @Test func theShippedListIsValidAndUnchanged() throws {
        try MigrationPlan.validate(Migration.all)
        #expect(Migration.all.map(\.checksum).prefix(3) == [
            "57bcfe25221487735f10f39ee9a62bc993e6d9aae629d594b62b70fc91e2f528",
            "551d4455c2908685c351e23c1503ec1e0e839ed59800fc15221e270a064cb994",  // event_bus
            "8e9fa7948b594f495a012675485bbf370614dd0a168d0f5f270fe2125e7c2b6e",  // sync
        ])
        #expect(self.known[0].checksum != self.known[1].checksum)
    }
}
