import NIOConcurrencyHelpers
import NIOCore
import Testing

@testable import ChorusServer

/// The idempotency window without I/O: a manual clock, and answers collected as they come.
@Suite struct MemoryIdempotencyStoreTests {
    final class Clock: Sendable {
        private let now = NIOLockedValueBox(NIODeadline.uptimeNanoseconds(1_000_000_000))
        var read: @Sendable () -> NIODeadline { { self.now.withLockedValue { $0 } } }
        func advance(_ amount: TimeAmount) { self.now.withLockedValue { $0 = $0 + amount } }
    }

    final class Answers: Sendable {
        private let list = NIOLockedValueBox<[IdempotencyClaim]>([])
        var all: [IdempotencyClaim] { self.list.withLockedValue { $0 } }
        func record(_ claim: IdempotencyClaim) { self.list.withLockedValue { $0.append(claim) } }
    }

    static func key(_ key: String, publisher: String = "user:ann", topic: String = "chat") -> IdempotencyKey {
        IdempotencyKey(publisher: publisher, topic: topic, key: key)
    }

    static func receipt(_ id: String) -> Hub.Receipt {
        Hub.Receipt(messageID: id, offset: 7, epoch: "e")
    }

    let clock = Clock()

    func store(window: Duration = .seconds(300), maxKeys: Int = 100) -> MemoryIdempotencyStore {
        MemoryIdempotencyStore(window: window, maxKeys: maxKeys, now: self.clock.read)
    }

    func claim(_ store: MemoryIdempotencyStore, _ key: IdempotencyKey) -> Answers {
        let answers = Answers()
        store.claim(key) { answers.record($0) }
        return answers
    }

    @Test func aRetryWithinTheWindowGetsTheOriginalReceipt() {
        let store = self.store()
        #expect(self.claim(store, Self.key("k")).all == [.publish])
        store.finish(Self.key("k"), receipt: Self.receipt("m1"))
        self.clock.advance(.seconds(299))
        #expect(self.claim(store, Self.key("k")).all == [.duplicate(Self.receipt("m1"))])
        self.clock.advance(.seconds(1))
        #expect(self.claim(store, Self.key("k")).all == [.publish])
    }

    @Test func keysAreScopedByPublisherAndTopic() {
        let store = self.store()
        _ = self.claim(store, Self.key("k"))
        store.finish(Self.key("k"), receipt: Self.receipt("m1"))
        #expect(self.claim(store, Self.key("k", publisher: "user:bob")).all == [.publish])
        #expect(self.claim(store, Self.key("k", topic: "other")).all == [.publish])
    }

    @Test func aRetryDuringTheCommitWaitsForItsOutcome() {
        let store = self.store()
        #expect(self.claim(store, Self.key("k")).all == [.publish])
        let retry = self.claim(store, Self.key("k"))
        #expect(retry.all.isEmpty)
        store.finish(Self.key("k"), receipt: Self.receipt("m1"))
        #expect(retry.all == [.duplicate(Self.receipt("m1"))])
    }

    @Test func aFailedPublishIsNotRememberedAndTheFirstWaiterPublishes() {
        let store = self.store()
        _ = self.claim(store, Self.key("k"))
        let first = self.claim(store, Self.key("k"))
        let second = self.claim(store, Self.key("k"))
        store.finish(Self.key("k"), receipt: nil)
        #expect(first.all == [.publish])
        #expect(second.all.isEmpty)
        store.finish(Self.key("k"), receipt: Self.receipt("m2"))
        #expect(second.all == [.duplicate(Self.receipt("m2"))])
        // Nobody waiting: the failed key is simply forgotten.
        _ = self.claim(store, Self.key("x"))
        store.finish(Self.key("x"), receipt: nil)
        #expect(self.claim(store, Self.key("x")).all == [.publish])
    }

    @Test func memoryIsBoundedByForgettingTheOldestFirst() {
        let store = self.store(maxKeys: 3)
        for index in 0..<5 {
            _ = self.claim(store, Self.key("k\(index)"))
            store.finish(Self.key("k\(index)"), receipt: Self.receipt("m\(index)"))
            #expect(store.count <= 3)
        }
        #expect(self.claim(store, Self.key("k1")).all == [.publish])
        #expect(self.claim(store, Self.key("k4")).all == [.duplicate(Self.receipt("m4"))])
    }

    @Test func whenEveryKeyIsInFlightANewOneIsNotRemembered() {
        let store = self.store(maxKeys: 1)
        _ = self.claim(store, Self.key("a"))
        #expect(self.claim(store, Self.key("b")).all == [.publish])
        store.finish(Self.key("b"), receipt: Self.receipt("m"))
        #expect(store.count == 1)
        #expect(self.claim(store, Self.key("b")).all == [.publish])
    }

    @Test func zeroKeysTurnsDeduplicationOff() {
        let store = self.store(maxKeys: 0)
        _ = self.claim(store, Self.key("k"))
        store.finish(Self.key("k"), receipt: Self.receipt("m"))
        #expect(self.claim(store, Self.key("k")).all == [.publish])
        #expect(store.count == 0)
    }
}
