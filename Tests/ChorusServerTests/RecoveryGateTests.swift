import ChorusCore
import NIOCore
import Testing

@testable import ChorusServer

/// The seam between replayed history and live messages, and the paging of replays, without I/O.
@Suite struct RecoveryGateTests {
    typealias Gate = RecoveryGate<String>

    static func bytes(_ count: Int) -> ByteBuffer {
        ByteBuffer(repeating: 0x61, count: count)
    }

    /// Reads the next page of `key`, expecting one, and returns its generation and cursor.
    static func read(_ gate: inout Gate, _ key: String, writable: Bool = true) -> (generation: UInt64, cursor: UInt64)? {
        guard case .read(let generation, let cursor, _) = gate.next(key: key, writable: writable) else { return nil }
        return (generation, cursor)
    }

    @Test func pagesWhileWritableThenReleasesHeldMessagesInOrder() throws {
        var gate = Gate()
        gate.start(key: "chat:a", scope: .topic("chat:a"), floor: 10, cursor: 3, source: "replay")
        let first = try #require(Self.read(&gate, "chat:a"))
        #expect(first.cursor == 3)
        // Meanwhile: older live messages are dropped, newer ones held (and counted).
        #expect(gate.live(topic: "chat:a", sequence: 9, bytes: Self.bytes(5)) == .drop)
        #expect(gate.live(topic: "chat:a", sequence: 11, bytes: Self.bytes(5)) == .hold)
        #expect(gate.live(topic: "chat:a", sequence: 12, bytes: Self.bytes(7)) == .hold)
        #expect(gate.live(topic: "chat:b", sequence: 13, bytes: Self.bytes(5)) == .deliver)
        #expect(gate.heldBytes == 12)
        let accepted1 = gate.pageRead(key: "chat:a", generation: first.generation, cursor: 6, exhausted: false)
        #expect(accepted1)
        // Not writable: the replay waits, and says so.
        #expect(Self.read(&gate, "chat:a", writable: false) == nil)
        #expect(gate.waiting == ["chat:a"])
        let second = try #require(Self.read(&gate, "chat:a"))
        #expect(second.cursor == 6)
        let accepted2 = gate.pageRead(key: "chat:a", generation: second.generation, cursor: 8, exhausted: true)
        #expect(accepted2)
        guard case .release(let held) = gate.next(key: "chat:a", writable: false) else {
            Issue.record("expected the held messages")
            return
        }
        #expect(held.map(\.readableBytes) == [5, 7])
        #expect(gate.heldBytes == 0)
        // Released: the floor still drops what the replay covered; the first newer message ends the gate.
        #expect(gate.live(topic: "chat:a", sequence: 10, bytes: Self.bytes(1)) == .drop)
        #expect(gate.live(topic: "chat:a", sequence: 13, bytes: Self.bytes(1)) == .deliver)
        #expect(gate.isEmpty)
    }

    @Test func aNewReplayOfTheSameKeyReplacesThePendingOne() throws {
        var gate = Gate()
        gate.start(key: "chat:a", scope: .topic("chat:a"), floor: 10, cursor: 0, source: "old")
        let old = try #require(Self.read(&gate, "chat:a"))
        #expect(gate.live(topic: "chat:a", sequence: 11, bytes: Self.bytes(100)) == .hold)
        gate.start(key: "chat:a", scope: .topic("chat:a"), floor: 11, cursor: 0, source: "new")
        // The old replay's held messages are gone (the new one covers them) and its page is refused.
        #expect(gate.heldBytes == 0)
        let accepted3 = gate.pageRead(key: "chat:a", generation: old.generation, cursor: 5, exhausted: false)
        #expect(!accepted3)
        guard case .read(let generation, _, let source) = gate.next(key: "chat:a", writable: true) else {
            Issue.record("expected a read of the new replay")
            return
        }
        #expect(source == "new")
        #expect(generation != old.generation)
        #expect(gate.replays.count == 1)
    }

    @Test func cancellingDropsTheReplayAndWhatItHeld() throws {
        var gate = Gate()
        gate.start(key: "chat:a", scope: .topic("chat:a"), floor: 10, cursor: 0, source: "replay")
        let read = try #require(Self.read(&gate, "chat:a"))
        #expect(gate.live(topic: "chat:a", sequence: 11, bytes: Self.bytes(100)) == .hold)
        gate.cancel(key: "chat:a")
        #expect(gate.heldBytes == 0)
        #expect(gate.isEmpty)
        let accepted4 = gate.pageRead(key: "chat:a", generation: read.generation, cursor: 5, exhausted: true)
        #expect(!accepted4)
        #expect(gate.live(topic: "chat:a", sequence: 12, bytes: Self.bytes(1)) == .deliver)
    }

    @Test func aGateWithoutReplayOnlyDropsWhatPrecedesTheSubscription() {
        var gate = Gate()
        gate.start(key: "chat:a", scope: .topic("chat:a"), floor: 10, cursor: 0, source: nil)
        guard case .none = gate.next(key: "chat:a", writable: true) else {
            Issue.record("expected nothing to read")
            return
        }
        #expect(gate.live(topic: "chat:a", sequence: 10, bytes: Self.bytes(1)) == .drop)
        #expect(gate.live(topic: "chat:a", sequence: 11, bytes: Self.bytes(1)) == .deliver)
        #expect(gate.isEmpty)
    }

    @Test func patternReplaysGateEveryTopicTheyMatch() throws {
        var gate = Gate()
        let pattern = try TopicPattern("room.*")
        gate.start(key: pattern.text, scope: .patterns([pattern]), floor: 20, cursor: 0, source: "pattern")
        _ = try #require(Self.read(&gate, pattern.text))
        #expect(gate.live(topic: "room.a", sequence: 20, bytes: Self.bytes(1)) == .drop)
        #expect(gate.live(topic: "room.b", sequence: 21, bytes: Self.bytes(3)) == .hold)
        #expect(gate.live(topic: "other.x", sequence: 22, bytes: Self.bytes(1)) == .deliver)
        #expect(gate.heldBytes == 3)
    }

    @Test func anExhaustedReplayNeverReadsAgain() throws {
        var gate = Gate()
        gate.start(key: "k", scope: .topic("k"), floor: 1, cursor: 0, source: "replay")
        let read = try #require(Self.read(&gate, "k"))
        // A page arriving twice (or late) is refused once the replay moved on.
        let accepted5 = gate.pageRead(key: "k", generation: read.generation, cursor: 1, exhausted: true)
        #expect(accepted5)
        let accepted6 = gate.pageRead(key: "k", generation: read.generation, cursor: 1, exhausted: true)
        #expect(!accepted6)
        guard case .release = gate.next(key: "k", writable: true) else {
            Issue.record("expected the release")
            return
        }
        guard case .none = gate.next(key: "k", writable: true) else {
            Issue.record("expected nothing more")
            return
        }
    }
}

/// The gate's answer to each page: complete or not, stale, overtaken.
extension RecoveryGateTests {
    static func page(cursor: UInt64, exhausted: Bool, complete: Bool? = nil, overtaken: Bool = false) -> ReplayPage {
        ReplayPage(messages: [], cursor: cursor, exhausted: exhausted, complete: complete, overtaken: overtaken)
    }

    /// Starts a replay of `room.*` at floor 20 and, when it has a source, reads its first page.
    static func startRoomReplay(_ gate: inout Gate, source: String? = "pattern") throws -> (key: String, read: (generation: UInt64, cursor: UInt64)?) {
        let pattern = try TopicPattern("room.*")
        gate.start(key: pattern.text, scope: .patterns([pattern]), floor: 20, cursor: 0, source: source)
        return (pattern.text, source == nil ? nil : try #require(Self.read(&gate, pattern.text)))
    }

    @Test func aCompleteFirstPageIsAnsweredAndWritten() throws {
        var gate = Gate()
        gate.start(key: "t", scope: .topic("t"), floor: 5, cursor: 0, source: "replay")
        let read = try #require(Self.read(&gate, "t"))
        let page = gate.pageRead(key: "t", generation: read.generation, page: Self.page(cursor: 2, exhausted: false, complete: true), sendsPartial: false)
        #expect(page == .write(recovered: true, messages: true))
        // Later pages carry no answer.
        let next = try #require(Self.read(&gate, "t"))
        #expect(next.cursor == 2)
        #expect(gate.pageRead(key: "t", generation: next.generation, page: Self.page(cursor: 5, exhausted: true), sendsPartial: false) == .write(recovered: nil, messages: true))
    }

    /// A topic replay is complete or nothing: an incomplete one sends no message, reads no
    /// further page, and releases what it held.
    @Test func anIncompleteTopicReplaySendsNothingAndEnds() throws {
        var gate = Gate()
        gate.start(key: "t", scope: .topic("t"), floor: 5, cursor: 0, source: "replay")
        let read = try #require(Self.read(&gate, "t"))
        #expect(gate.live(topic: "t", sequence: 6, bytes: Self.bytes(4)) == .hold)
        let page = gate.pageRead(key: "t", generation: read.generation, page: Self.page(cursor: 2, exhausted: false, complete: false), sendsPartial: false)
        #expect(page == .write(recovered: false, messages: false))
        guard case .release(let held) = gate.next(key: "t", writable: true) else {
            Issue.record("expected the release")
            return
        }
        #expect(held.map(\.readableBytes) == [4])
    }

    /// A pattern replay sends what history kept even when it cannot be complete.
    @Test func anIncompletePatternReplayStillSendsWhatHistoryKept() throws {
        var gate = Gate()
        let (key, read) = try Self.startRoomReplay(&gate)
        let page = gate.pageRead(key: key, generation: try #require(read).generation, page: Self.page(cursor: 4, exhausted: false, complete: false), sendsPartial: true)
        #expect(page == .write(recovered: false, messages: true))
        #expect(Self.read(&gate, key)?.cursor == 4)
    }

    @Test func anOvertakenReplayMustNotReleaseItsHeldMessages() throws {
        var gate = Gate()
        gate.start(key: "t", scope: .topic("t"), floor: 5, cursor: 0, source: "replay")
        let first = try #require(Self.read(&gate, "t"))
        _ = gate.pageRead(key: "t", generation: first.generation, page: Self.page(cursor: 2, exhausted: false, complete: true), sendsPartial: false)
        let second = try #require(Self.read(&gate, "t"))
        #expect(gate.pageRead(key: "t", generation: second.generation, page: Self.page(cursor: 3, exhausted: false, overtaken: true), sendsPartial: false) == .overtaken)
    }

    @Test func aPageOfAReplacedReplayIsStale() throws {
        var gate = Gate()
        gate.start(key: "t", scope: .topic("t"), floor: 5, cursor: 0, source: "old")
        let old = try #require(Self.read(&gate, "t"))
        gate.start(key: "t", scope: .topic("t"), floor: 6, cursor: 0, source: "new")
        #expect(gate.pageRead(key: "t", generation: old.generation, page: Self.page(cursor: 5, exhausted: true, complete: true), sendsPartial: false) == .stale)
    }

    @Test func aReadInFlightIsNotStartedTwice() throws {
        var gate = Gate()
        gate.start(key: "t", scope: .topic("t"), floor: 5, cursor: 0, source: "replay")
        _ = try #require(Self.read(&gate, "t"))
        // Writability returning meanwhile must not start a second read of the same page.
        guard case .none = gate.next(key: "t", writable: true) else {
            Issue.record("expected nothing while a read is in flight")
            return
        }
        #expect(gate.waiting.isEmpty)
    }

    @Test func overlappingReplaysHoldOnceAndDropBelowAnyFloor() throws {
        var gate = Gate()
        let (key, _) = try Self.startRoomReplay(&gate)
        gate.start(key: "room.a", scope: .topic("room.a"), floor: 10, cursor: 0, source: "topic")
        // Below the pattern's floor: the pattern replay has it.
        #expect(gate.live(topic: "room.a", sequence: 15, bytes: Self.bytes(1)) == .drop)
        // Above both: held once, behind the topic's own replay.
        #expect(gate.live(topic: "room.a", sequence: 21, bytes: Self.bytes(2)) == .hold)
        #expect(gate.heldBytes == 2)
        #expect(gate.replays["room.a"]?.held.count == 1)
        #expect(gate.replays[key]?.held.isEmpty == true)
    }

    @Test func aReleasedPatternReplayEndsAtTheFirstNewerMessage() throws {
        var gate = Gate()
        _ = try Self.startRoomReplay(&gate, source: nil)
        #expect(gate.live(topic: "room.a", sequence: 20, bytes: Self.bytes(1)) == .drop)
        #expect(gate.live(topic: "room.a", sequence: 21, bytes: Self.bytes(1)) == .deliver)
        #expect(gate.isEmpty)
        // Its key is gone from the pattern scan too: a later topic replay is found alone.
        gate.start(key: "room.b", scope: .topic("room.b"), floor: 30, cursor: 0, source: nil)
        #expect(gate.live(topic: "room.b", sequence: 25, bytes: Self.bytes(1)) == .drop)
    }

    @Test func cancellingAPatternReplayStopsGatingItsTopics() throws {
        var gate = Gate()
        let (key, _) = try Self.startRoomReplay(&gate)
        #expect(gate.live(topic: "room.a", sequence: 21, bytes: Self.bytes(3)) == .hold)
        gate.cancel(key: key)
        #expect(gate.heldBytes == 0)
        #expect(gate.live(topic: "room.a", sequence: 19, bytes: Self.bytes(1)) == .deliver)
    }

    @Test func aScopeCoversOnlyValidTopicsItMatches() throws {
        let scope = Gate.Scope.patterns([try TopicPattern("room.*")])
        #expect(scope.covers("room.a"))
        #expect(!scope.covers("hall.a"))
        #expect(!scope.covers("not a topic"))
        #expect(Gate.Scope.topic("room.a").covers("room.a") && !Gate.Scope.topic("room.a").covers("room.b"))
    }
}
