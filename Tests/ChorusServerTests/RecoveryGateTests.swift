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
