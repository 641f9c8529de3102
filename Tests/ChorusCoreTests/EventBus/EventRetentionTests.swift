import Testing

@testable import ChorusCore

/// What the count and size limits take from a log with given totals.
@Suite struct EventRetentionTests {
    static func totals(count: Int, bytes: Int) -> EventLogStats {
        EventLogStats(count: count, bytes: bytes, oldestSequence: 1, oldestTimestamp: 0, lastSequence: Int64(count), newestTimestamp: 0, types: [:])
    }

    @Test func eachLimitGivesItsExcessAndALogWithinBothGivesNone() {
        #expect(EventRetention(maxAge: 1).limitsCountOrSize == false)
        #expect(EventRetention(maxEvents: 0).limitsCountOrSize)
        #expect(EventRetention().excess(of: Self.totals(count: 10, bytes: 100)) == nil)
        #expect(EventRetention(maxEvents: 10, maxBytes: 100).excess(of: Self.totals(count: 10, bytes: 100)) == nil)
        let overCount = EventRetention(maxEvents: 7, maxBytes: 1_000).excess(of: Self.totals(count: 10, bytes: 100))
        #expect(overCount?.events == 3 && overCount?.bytes == -900)
        let overSize = EventRetention(maxBytes: 60).excess(of: Self.totals(count: 10, bytes: 100))
        #expect(overSize?.events == 0 && overSize?.bytes == 40)
        let emptied = EventRetention(maxEvents: 0).excess(of: Self.totals(count: 2, bytes: 20))
        #expect(emptied?.events == 2 && emptied?.bytes == 0)
    }
}
