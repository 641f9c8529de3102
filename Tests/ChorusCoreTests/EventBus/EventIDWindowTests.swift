import ChorusCore
import Testing

/// The in-memory idempotency window: what it answers, and what it forgets in which order.
struct EventIDWindowTests {
    @Test func rememberedIDsAnswerWithTheirOriginalUntilForgotten() {
        var window = EventIDWindow()
        window.remember("a", as: .init(sequence: 1, timestamp: 10), seenAt: 100)
        window.remember("b", as: .init(sequence: 2, timestamp: 20), seenAt: 200)
        #expect(window.original(of: "a") == .init(sequence: 1, timestamp: 10))
        #expect(window.original(of: "b") == .init(sequence: 2, timestamp: 20))
        #expect(window.original(of: "c") == nil)
        #expect(window.count == 2 && window.oldestSequence == 1)
        // Forgotten: those seen before the time, and only those.
        #expect(window.forget(seenBefore: 100) == 0)
        #expect(window.forget(seenBefore: 101) == 1)
        #expect(window.original(of: "a") == nil && window.original(of: "b") != nil)
        #expect(window.oldestSequence == 2)
    }

    @Test func anIDRememberedAgainKeepsItsNewerOriginalWhenTheOlderEntryExpires() {
        var window = EventIDWindow()
        window.remember("a", as: .init(sequence: 1, timestamp: 10), seenAt: 100)
        window.remember("a", as: .init(sequence: 5, timestamp: 50), seenAt: 500)
        #expect(window.count == 1)
        // The older entry goes without taking the newer original with it.
        #expect(window.forget(seenBefore: 200) == 0)
        #expect(window.original(of: "a") == .init(sequence: 5, timestamp: 50))
        #expect(window.forget(seenBefore: 501) == 1)
        #expect(window.original(of: "a") == nil && window.count == 0 && window.oldestSequence == nil)
    }

    @Test func aLogReadBackNewestFirstIsRememberedInItsOrderWithTheNewestOriginals() {
        var window = EventIDWindow()
        window.remember("c", as: .init(sequence: 9, timestamp: 90), seenAt: 900)
        // Read back newest first: "a" twice (appended anew after its window), "b" once.
        window.rememberEarlier("a", as: .init(sequence: 8, timestamp: 80), seenAt: 800)
        window.rememberEarlier("b", as: .init(sequence: 7, timestamp: 70), seenAt: 700)
        window.rememberEarlier("a", as: .init(sequence: 6, timestamp: 60), seenAt: 600)
        #expect(window.count == 3 && window.oldestSequence == 7)
        #expect(window.original(of: "a") == .init(sequence: 8, timestamp: 80))
        // Forgotten oldest first, whichever way they were remembered.
        #expect(window.forget(seenBefore: 701) == 1)
        #expect(window.original(of: "b") == nil && window.original(of: "a") != nil)
        #expect(window.excess(over: 1) == 8...8)
    }

    @Test func theExcessIsTheRangeOfTheOldestSequencesAndIsForgottenThroughItsLast() {
        var window = EventIDWindow()
        for n in 1...5 { window.remember("id-\(n)", as: .init(sequence: Int64(n * 10), timestamp: 0), seenAt: Int64(n)) }
        #expect(window.excess(over: 5) == nil)
        #expect(window.excess(over: 7) == nil)
        #expect(window.excess(over: 2) == 10...30)
        #expect(window.excess(over: 0) == 10...50)
        #expect(window.excess(over: 0, limit: 2) == 10...20)
        #expect(window.excess(over: 4, limit: 2) == 10...10)
        #expect(window.forget(throughSequence: 30) == 3)
        #expect(window.count == 2 && window.oldestSequence == 40)
        #expect(window.original(of: "id-3") == nil && window.original(of: "id-4")?.sequence == 40)
    }

    @Test func manyDistinctIDsNeverAnswerForEachOther() {
        var window = EventIDWindow()
        let ids = (0..<50_000).map { "order-\($0)" } + ["", " ", "é", "e\u{301}"]
        for (n, id) in ids.enumerated() { window.remember(id, as: .init(sequence: Int64(n), timestamp: 0), seenAt: 0) }
        #expect(window.count == ids.count)
        for (n, id) in ids.enumerated() where window.original(of: id)?.sequence != Int64(n) {
            Issue.record("\(id) answered \(String(describing: window.original(of: id)))")
        }
        #expect(window.original(of: "order-50000") == nil)
    }
}
