import ChorusCore
import NIOCore
import NIOEmbedded
import Testing

@testable import ChorusServer

/// A fan-out larger than a slice is written a slice per drain, with the loop's other work (an
/// HTTP answer, a ping) served between slices, and every subscriber still gets every message
/// once, in order.
@Suite struct FanOutSliceTests {
    typealias Recorder = BrokerTests.Recorder

    struct Setup {
        let loop = EmbeddedEventLoop()
        let hub: Hub
        let shard: LoopShard
        let recorders: [Recorder]
        var sequence: UInt64 = 0

        init(
            subscribers: Int, sliceWrites: Int, pattern: String = "chat:a", sliceTime: TimeAmount = .hours(1),
            clock: @escaping () -> NIODeadline = NIODeadline.now
        ) throws {
            let configuration = HubConfiguration()
            self.hub = try Hub(configuration: configuration, eventLoopGroup: self.loop, authenticator: Authenticator(configuration: configuration))
            self.shard = LoopShard(
                eventLoop: self.loop, metrics: self.hub.metrics, interests: self.hub.interests, sliceWrites: sliceWrites,
                sliceTime: sliceTime, clock: clock)
            let hub = self.hub
            self.recorders = (0..<subscribers).map { _ in Recorder(hub.makeConnectionInfo(transport: .webSocket, user: nil, remoteAddress: nil)) }
            for recorder in self.recorders {
                self.shard.register(recorder)
                _ = self.shard.subscribe(recorder, to: try TopicPattern(pattern), filtered: false)
            }
        }

        mutating func message(_ id: String, topic: String = "chat:a") throws -> OutboundMessage {
            self.sequence += 1
            let envelope = MessageEnvelope(topic: topic, event: "message", data: ByteBuffer(string: "1"), messageID: id, timestamp: 1)
            return OutboundMessage(envelope: envelope, topic: try Topic(topic), sequence: self.sequence, excludedConnection: nil, allocator: ByteBufferAllocator())
        }

        var written: Int { self.recorders.map(\.received.count).reduce(0, +) }

        /// Lets the slices due run, as the loop does once it has polled its sockets.
        func nextSlice() {
            self.loop.advanceTime(by: LoopShard.sliceYield)
            self.loop.run()
        }
    }

    @Test func aLargeFanOutYieldsToOtherTasksBetweenSlices() throws {
        var setup = try Setup(subscribers: 10, sliceWrites: 4)
        setup.shard.enqueue(.topic(try setup.message("m1")))
        setup.shard.enqueue(.topic(try setup.message("m2")))
        setup.loop.run()
        #expect(setup.written == 4)

        // Work queued meanwhile (an HTTP answer) runs before the next slice; so does a publish's
        // queuing, which must not start a drain of its own ahead of the sockets.
        var answered = false
        setup.loop.execute { answered = true }
        setup.shard.enqueue(.topic(try setup.message("m3")))
        setup.loop.run()
        #expect(answered)
        #expect(setup.written == 4)

        var slices = 1
        while setup.written < 30 {
            setup.nextSlice()
            slices += 1
            #expect(slices <= 8, "30 copies at 4 a slice take 8 slices")
        }
        #expect(slices == 8)
        setup.nextSlice()
        #expect(setup.written == 30)
        for recorder in setup.recorders {
            #expect(recorder.received.map(\.envelope.messageID) == ["m1", "m2", "m3"])
        }
    }

    @Test func aFrameToATopicsSubscribersIsWrittenInSlicesInItsPlaceAmongMessages() throws {
        // A presence diff to 10 subscribers between two messages, at 4 copies a slice.
        var setup = try Setup(subscribers: 10, sliceWrites: 4)
        setup.shard.enqueue(.topic(try setup.message("m1")))
        setup.shard.enqueue(.frame(try Topic("chat:a"), ByteBuffer(string: "diff")))
        setup.shard.enqueue(.topic(try setup.message("m2")))
        setup.loop.run()
        var answered = false
        setup.loop.execute { answered = true }
        setup.loop.run()
        #expect(answered, "work queued during the fan-out runs between its slices")
        var slices = 1
        while setup.recorders.contains(where: { $0.written.count < 3 }) {
            setup.nextSlice()
            slices += 1
            #expect(slices <= 8, "30 copies at 4 a slice take 8 slices")
        }
        #expect(slices == 8)
        for recorder in setup.recorders {
            #expect(recorder.written == ["m1", "diff", "m2"])
        }
        // A connection that closed while the diff was on its way gets none of what follows.
        setup.recorders[9].closed = true
        setup.shard.enqueue(.frame(try Topic("chat:a"), ByteBuffer(string: "next")))
        setup.loop.run()
        for _ in 0..<3 { setup.nextSlice() }
        #expect(setup.recorders[..<9].allSatisfy { $0.frames == ["diff", "next"] })
        #expect(setup.recorders[9].frames == ["diff"])
    }

    /// Presence's brake: while the loops still write a diff, the next tick's flush waits and the
    /// changes meanwhile go into one diff, so diffs never queue faster than the loops write them.
    @Test func aPresenceFlushWaitsUntilTheLoopsHaveWrittenTheLastDiff() throws {
        // 20,000 members at one copy a slice, a slice every 10 µs: a diff takes 200 ms to write.
        let setup = try Setup(subscribers: 20_000, sliceWrites: 1)
        let changes = PresenceChanges(shards: [setup.shard])
        let topic = try Topic("chat:a")
        func member(_ client: String) -> PresenceMember {
            PresenceMember(client: client, user: client, meta: ByteBuffer(string: "{}"), joinedAt: 1)
        }
        changes.record(.joined(member("a")), topic: topic)  // after a quiet tick: at once
        setup.loop.run()
        setup.loop.advanceTime(by: .milliseconds(50))
        changes.record(.joined(member("b")), topic: topic)  // due at 100 ms, while "a" is written
        setup.loop.advanceTime(by: .milliseconds(100))
        changes.record(.joined(member("c")), topic: topic)  // at 150 ms: the flush is still waiting
        #expect(setup.recorders.allSatisfy { $0.frames.count <= 1 })
        setup.loop.advanceTime(by: .milliseconds(600))
        let frames = setup.recorders.map(\.frames)
        #expect(frames.allSatisfy { $0.count == 2 }, "one diff for a, one for b and c together")
        #expect(frames[0].count == 2 && frames[0][1].contains("\"b\"") && frames[0][1].contains("\"c\""))
        #expect(Set(frames.map { $0 }).count == 1)
    }

    @Test func aSliceEndsWhenItsTimeIsUpWhateverItsCopies() throws {
        // Each look at the clock finds 300 µs gone: a 1 ms slice sees 0, 0.3, 0.6, 0.9 and 1.2 ms,
        // a look every 16 copies, so it ends after 64 copies though 4,096 are allowed.
        let ticks = Ticks(step: .microseconds(300))
        var setup = try Setup(subscribers: 200, sliceWrites: 4_096, sliceTime: .milliseconds(1), clock: ticks.next)
        setup.shard.enqueue(.topic(try setup.message("m1")))
        setup.loop.run()
        #expect(setup.written == 4 * SliceBudget.clockEvery)
        setup.nextSlice()
        #expect(setup.written == 8 * SliceBudget.clockEvery)
        while setup.written < 200 { setup.nextSlice() }
        #expect(setup.recorders.allSatisfy { $0.received.map(\.envelope.messageID) == ["m1"] })
    }

    @Test func aSliceBudgetCountsCopiesAndReadsTheClockOnlyEverySixteen() {
        let ticks = Ticks(step: .microseconds(100))
        var budget = SliceBudget(copies: 40, time: .hours(1), clock: ticks.next)
        var written = 0
        while budget.allowsMore() {
            budget.spend()
            written += 1
        }
        #expect(written == 40)
        // One read to start, then one at 16 and one at 32 copies.
        #expect(ticks.reads == 3)

        let stopped = Ticks(step: .milliseconds(2))
        var late = SliceBudget(copies: 100, time: .milliseconds(1), clock: stopped.next)
        written = 0
        while late.allowsMore() {
            late.spend()
            written += 1
        }
        #expect(written == SliceBudget.clockEvery)
        // Once the time is up it stays up without reading the clock again.
        let more = late.allowsMore()
        #expect(!more)
        #expect(stopped.reads == 2)
    }

    /// A clock that moves `step` each time it is read.
    final class Ticks {
        let step: TimeAmount
        private let start = NIODeadline.uptimeNanoseconds(0)
        private(set) var reads = 0

        init(step: TimeAmount) { self.step = step }

        func next() -> NIODeadline {
            defer { self.reads += 1 }
            return self.start + .nanoseconds(self.step.nanoseconds * Int64(self.reads))
        }
    }

    @Test func messagesQueuedTogetherReachEachSubscriberInOneSendAcrossSlices() throws {
        // Three messages to 6 subscribers at 6 copies a slice: written message by message, each
        // slice's flush would send one message, three sends per subscriber.
        var setup = try Setup(subscribers: 6, sliceWrites: 6)
        for id in ["m1", "m2", "m3"] { setup.shard.enqueue(.topic(try setup.message(id))) }
        setup.loop.run()
        #expect(setup.written == 6)
        while setup.written < 18 { setup.nextSlice() }
        for recorder in setup.recorders {
            #expect(recorder.received.map(\.envelope.messageID) == ["m1", "m2", "m3"])
            #expect(recorder.sends == 1)
        }
        // A message to another topic is a fan-out of its own; the topic's next one starts anew.
        setup.shard.enqueue(.topic(try setup.message("other", topic: "chat:b")))
        setup.shard.enqueue(.topic(try setup.message("m4")))
        while setup.written < 24 { setup.nextSlice() }
        #expect(setup.recorders.allSatisfy { $0.received.map(\.envelope.messageID) == ["m1", "m2", "m3", "m4"] })
    }

    @Test func aLoopWithMoreQueuedThanItWritesDrainsWithoutYieldingUntilItCatchesUp() throws {
        // 300 messages alternating between two topics (no two in one fan-out), 2 copies each.
        var setup = try Setup(subscribers: 2, sliceWrites: 4, pattern: "chat:*")
        for index in 0..<300 { setup.shard.enqueue(.topic(try setup.message("m\(index)", topic: index % 2 == 0 ? "chat:a" : "chat:b"))) }
        setup.loop.run()
        // Only once 256 or fewer were left did it yield (at 2 messages a slice).
        let queued = LoopShard.maxBacklogWhileYielding
        #expect(setup.written >= 2 * (300 - queued) && setup.written <= 2 * (300 - queued) + 4)
        while setup.written < 600 { setup.nextSlice() }
        for recorder in setup.recorders {
            #expect(recorder.received.map(\.envelope.messageID) == (0..<300).map { "m\($0)" })
        }
    }

    @Test func aConnectionClosedBetweenSlicesIsSkippedAndTheRestStillGetIt() throws {
        var setup = try Setup(subscribers: 6, sliceWrites: 2)
        setup.shard.enqueue(.topic(try setup.message("m1")))
        setup.loop.run()
        let untouched = setup.recorders.filter { $0.received.isEmpty }
        #expect(untouched.count == 4)
        // Its channel closes (the close unregisters it): the slice holds a copy of the subscribers.
        untouched[0].closed = true
        setup.shard.unregister(untouched[0])
        while setup.recorders.filter({ $0 !== untouched[0] }).contains(where: \.received.isEmpty) {
            setup.nextSlice()
        }
        #expect(untouched[0].received.isEmpty)
        #expect(setup.written == 5)
    }

    @Test func aPatternAndItsExactTopicDeliverOnceAcrossSlices() throws {
        var setup = try Setup(subscribers: 5, sliceWrites: 3, pattern: "chat:*")
        // Three of them also subscribe to the exact topic: they get it once, without `sub`.
        for recorder in setup.recorders.prefix(3) {
            _ = setup.shard.subscribe(recorder, to: try TopicPattern("chat:a"), filtered: false)
        }
        setup.shard.enqueue(.topic(try setup.message("m1")))
        setup.loop.run()
        while setup.written < 5 { setup.nextSlice() }
        setup.nextSlice()
        #expect(setup.recorders.map(\.received.count) == [1, 1, 1, 1, 1])
    }
}
