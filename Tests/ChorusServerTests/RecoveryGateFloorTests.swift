import ChorusCore
import NIOCore
import Testing

@testable import ChorusServer

/// The gate while a store across the network has not answered the floor yet: every live
/// message of the scope is held, then those at or below the floor are dropped and the rest
/// follow the replay, without I/O.
@Suite struct RecoveryGateFloorTests {
    typealias Gate = RecoveryGateTests.Gate

    static func bytes(_ text: String) -> ByteBuffer {
        ByteBuffer(string: text)
    }

    @Test func liveMessagesWaitForTheFloorThenFollowTheReplay() throws {
        var gate = Gate()
        let generation = gate.hold(key: "t", scope: .topic("t"))
        #expect(gate.awaitsFloor(key: "t", generation: generation))
        // Nothing to read before the floor is known; every live message of the topic waits.
        guard case .none = gate.next(key: "t", writable: true) else {
            Issue.record("no read before the floor")
            return
        }
        #expect(gate.live(topic: "t", sequence: 9, bytes: Self.bytes("9")) == .hold)
        #expect(gate.live(topic: "t", sequence: 11, bytes: Self.bytes("11")) == .hold)
        #expect(gate.live(topic: "other", sequence: 12, bytes: Self.bytes("12")) == .deliver)
        #expect(gate.heldBytes == 3)
        // The floor (10) arrives: 9 was replayed, 11 waits behind the replay.
        gate.start(key: "t", scope: .topic("t"), floor: 10, cursor: 3, source: "replay")
        #expect(!gate.awaitsFloor(key: "t", generation: generation))
        #expect(gate.heldBytes == 2)
        #expect(gate.live(topic: "t", sequence: 10, bytes: Self.bytes("10")) == .drop)
        #expect(gate.live(topic: "t", sequence: 13, bytes: Self.bytes("13")) == .hold)
        let read = try #require(RecoveryGateTests.read(&gate, "t"))
        #expect(read.cursor == 3)
        let accepted = gate.pageRead(key: "t", generation: read.generation, cursor: 10, exhausted: true)
        #expect(accepted)
        guard case .release(let held) = gate.next(key: "t", writable: true) else {
            Issue.record("the held messages are released after the replay")
            return
        }
        #expect(held.map { String(buffer: $0) } == ["11", "13"])
        #expect(gate.heldBytes == 0)
    }

    @Test func withoutAReplayTheHeldMessagesPastTheFloorAreReleased() {
        var gate = Gate()
        _ = gate.hold(key: "t", scope: .topic("t"))
        #expect(gate.live(topic: "t", sequence: 4, bytes: Self.bytes("4")) == .hold)
        #expect(gate.live(topic: "t", sequence: 6, bytes: Self.bytes("6")) == .hold)
        gate.start(key: "t", scope: .topic("t"), floor: 5, cursor: 0, source: nil)
        guard case .release(let held) = gate.next(key: "t", writable: true) else {
            Issue.record("what is past the floor is released at once")
            return
        }
        #expect(held.map { String(buffer: $0) } == ["6"])
        #expect(gate.live(topic: "t", sequence: 5, bytes: Self.bytes("5")) == .drop)
        #expect(gate.live(topic: "t", sequence: 7, bytes: Self.bytes("7")) == .deliver)
        #expect(gate.isEmpty)
    }

    @Test func aCancelledOrReplacedHoldNoLongerAwaitsItsFloor() throws {
        var gate = Gate()
        let first = gate.hold(key: "t", scope: .topic("t"))
        #expect(gate.live(topic: "t", sequence: 4, bytes: Self.bytes("4")) == .hold)
        let second = gate.hold(key: "t", scope: .topic("t"))
        #expect(!gate.awaitsFloor(key: "t", generation: first))
        #expect(gate.awaitsFloor(key: "t", generation: second))
        #expect(gate.heldBytes == 0)
        let pattern = try TopicPattern("room.*")
        let patterns = gate.hold(key: pattern.text, scope: .patterns([pattern]))
        #expect(gate.live(topic: "room.a", sequence: 5, bytes: Self.bytes("5")) == .hold)
        gate.cancel(key: pattern.text)
        #expect(!gate.awaitsFloor(key: pattern.text, generation: patterns))
        #expect(gate.heldBytes == 0)
        #expect(gate.live(topic: "room.a", sequence: 6, bytes: Self.bytes("6")) == .deliver)
    }
}
