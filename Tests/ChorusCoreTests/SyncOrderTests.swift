import ChorusCore
import Testing

/// A node's stream of sync changes put in version order, without I/O: late, doubled and
/// missing announcements, and the start of a collection's stream at its subscribers' reads.
@Suite struct SyncOrderTests {
    typealias Order = SyncOrder<String>

    /// The versions a step hands on, and the `since` of its read (nil: none).
    static func outcome(_ step: Order.Step) -> (versions: [UInt64], fill: UInt64?) {
        switch step {
        case .wait: ([], nil)
        case .deliver(let changes): (changes.map(\.version), nil)
        case .fill(let since, let first): (first.map(\.version), since)
        }
    }

    @Test func changesInOrderPassOnceAndDoublesAreDropped() {
        var order = Order()
        #expect(Self.outcome(order.received("c", version: 4, frame: "4")) == ([4], nil))
        #expect(Self.outcome(order.received("c", version: 5, frame: "5")) == ([5], nil))
        #expect(Self.outcome(order.received("c", version: 5, frame: "5")) == ([], nil))
        #expect(Self.outcome(order.received("c", version: 3, frame: "3")) == ([], nil))
        #expect(Self.outcome(order.received("d", version: 1, frame: "1")) == ([1], nil))
        #expect(order.last("c") == 5 && order.last("d") == 1)
    }

    @Test func aGapIsReadFromTheStoreAndWhatArrivesMeanwhileWaits() {
        var order = Order()
        _ = order.received("c", version: 1, frame: "1")
        // 2 and 3 were missed: 4 waits for the read after 1.
        #expect(Self.outcome(order.received("c", version: 4, frame: "4")) == ([], 1))
        #expect(Self.outcome(order.received("c", version: 5, frame: "5")) == ([], nil))
        // The late 2 waits too; the read answers 2...4 (5 was not committed when it ran).
        #expect(Self.outcome(order.received("c", version: 2, frame: "2")) == ([], nil))
        #expect(Self.outcome(order.filled("c", with: [(2, "2"), (3, "3"), (4, "4")])) == ([2, 3, 4, 5], nil))
        #expect(Self.outcome(order.received("c", version: 6, frame: "6")) == ([6], nil))
    }

    @Test func anAnnouncementWithoutItsFrameIsReadFromTheStore() {
        var order = Order()
        _ = order.received("c", version: 1, frame: "1")
        #expect(Self.outcome(order.received("c", version: 2, frame: nil)) == ([], 1))
        #expect(Self.outcome(order.filled("c", with: [(2, "2")])) == ([2], nil))
        // First seen without its frame: read from the version before.
        #expect(Self.outcome(order.received("d", version: 7, frame: nil)) == ([], 6))
        #expect(Self.outcome(order.filled("d", with: [(7, "7")])) == ([7], nil))
    }

    @Test func theStreamStartsAtTheOldestAnswerOfItsFirstSubscribers() {
        var order = Order()
        order.subscribing("c")
        order.subscribing("c")
        // Changes wait while reads are under way.
        #expect(Self.outcome(order.received("c", version: 10, frame: "10")) == ([], nil))
        #expect(Self.outcome(order.answered("c", at: 10)) == ([], nil))
        #expect(Self.outcome(order.received("c", version: 9, frame: "9")) == ([], nil))
        // The second read answered at 8: everything after it passes (each seam drops what it has).
        #expect(Self.outcome(order.answered("c", at: 8)) == ([9, 10], nil))
        // Followed now: later subscribers change nothing.
        order.subscribing("c")
        #expect(Self.outcome(order.answered("c", at: 10)) == ([], nil))
        #expect(Self.outcome(order.received("c", version: 11, frame: "11")) == ([11], nil))
    }

    @Test func aFailedReadOfTheOnlySubscriberLeavesTheCollectionUnfollowed() {
        var order = Order()
        order.subscribing("c")
        _ = order.received("c", version: 3, frame: "3")
        #expect(Self.outcome(order.abandoned("c")) == ([], nil))
        #expect(order.last("c") == nil)
        #expect(Self.outcome(order.received("c", version: 4, frame: "4")) == ([4], nil))
    }

    @Test func aStartThatMissedAChangeReadsIt() {
        var order = Order()
        order.subscribing("c")
        _ = order.received("c", version: 7, frame: "7")
        #expect(Self.outcome(order.answered("c", at: 5)) == ([], 5))
        #expect(Self.outcome(order.filled("c", with: [(6, "6"), (7, "7")])) == ([6, 7], nil))
    }

    @Test func resumingReadsEveryFollowedCollection() {
        var order = Order()
        _ = order.received("c", version: 3, frame: "3")
        _ = order.received("d", version: 1, frame: "1")
        order.subscribing("e")
        let fills = order.resume().sorted { $0.collection < $1.collection }
        #expect(fills.map(\.collection) == ["c", "d"] && fills.map(\.since) == [3, 1])
        #expect(Self.outcome(order.received("c", version: 4, frame: "4")) == ([], nil))
        #expect(Self.outcome(order.filled("c", with: [(4, "4"), (5, "5")])) == ([4, 5], nil))
        #expect(Self.outcome(order.filled("d", with: [])) == ([], nil))
        #expect(Self.outcome(order.received("d", version: 2, frame: "2")) == ([2], nil))
    }

    @Test func resumingDuringARead() {
        var order = Order()
        _ = order.received("c", version: 1, frame: "1")
        #expect(Self.outcome(order.received("c", version: 3, frame: "3")) == ([], 1))
        // The listener came back while that read ran: it reads again after it answers.
        #expect(order.resume().isEmpty)
        #expect(Self.outcome(order.filled("c", with: [(2, "2"), (3, "3")])) == ([2, 3], 3))
        #expect(Self.outcome(order.filled("c", with: [(4, "4")])) == ([4], nil))
        #expect(Self.outcome(order.received("c", version: 5, frame: "5")) == ([5], nil))
    }

    @Test func changesNoLongerKeptGoOnFromTheNewestHeard() {
        var order = Order()
        _ = order.received("c", version: 1, frame: "1")
        _ = order.received("c", version: 50, frame: "50")
        _ = order.received("c", version: 51, frame: "51")
        #expect(Self.outcome(order.filled("c", with: nil)) == ([], nil))
        #expect(order.last("c") == 51)
        #expect(Self.outcome(order.received("c", version: 52, frame: "52")) == ([52], nil))
    }
}
