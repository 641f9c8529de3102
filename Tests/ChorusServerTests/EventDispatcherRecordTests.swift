import ChorusCore
import ChorusSQLite
import CoreMetrics
import Foundation
import Logging
import NIOCore
import Synchronization
import Testing

@testable import ChorusServer

/// How the dispatcher records outcomes (issue #13): every completion that came while it was
/// busy goes to the store in one `record` call (one transaction), in the order they came, and
/// the scheduler hears of each after the commit. A `RecordingStore` wraps `SQLiteEventStore`,
/// counts `record` calls, and can make them slow (a disk's fsync) or fail.
@Suite(.serialized) struct EventDispatcherRecordTests {
    /// `SQLiteEventStore` with its `record` calls logged, each after `delay`; the first
    /// `failures` calls throw without recording anything.
    final class RecordingStore: EventStore {
        let base: SQLiteEventStore
        let delay: Duration
        let failures: Int
        /// Every call's records, in call order (failed calls too).
        let calls = Mutex<[[DeliveryRecord]]>([])
        /// Reads of pending deliveries made while more than `behind` events were not yet
        /// recorded delivered (of `appended`).
        let readsWhileBehind = Atomic<Int>(0)
        let appended: Int
        let behind: Int

        /// How many `definitions` calls fail first (a store gone just after it was ready).
        let definitionFailures: Int
        let definitionCalls = Atomic<Int>(0)

        init(_ base: SQLiteEventStore, delay: Duration = .zero, failures: Int = 0, appended: Int = 0, behind: Int = .max, definitionFailures: Int = 0) {
            self.base = base
            self.definitionFailures = definitionFailures
            self.appended = appended
            self.behind = behind
            self.delay = delay
            self.failures = failures
        }

        var recorded: [[DeliveryRecord]] { self.calls.withLock { $0 } }

        func record(consumer: String, _ records: [DeliveryRecord]) async throws -> [RecordedOutcome] {
            let call = self.calls.withLock { calls in
                calls.append(records)
                return calls.count
            }
            if self.delay > .zero { try await Task.sleep(for: self.delay) }
            guard call > self.failures else { throw StoreError("disk full") }
            return try await self.base.record(consumer: consumer, records)
        }

        func append(_ events: [Event], now: Int64, idempotencyWindow: Int64) async throws -> [EventReceipt] {
            try await self.base.append(events, now: now, idempotencyWindow: idempotencyWindow)
        }
        func events(_ query: EventQuery) async throws -> [LoggedEvent] { try await self.base.events(query) }
        func stats() async throws -> EventLogStats { try await self.base.stats() }
        func lastSequence() async throws -> Int64 { try await self.base.lastSequence() }
        func trim(_ retention: EventRetention, now: Int64) async throws -> Int { try await self.base.trim(retention, now: now) }
        func forgetEventIDs(seenBefore: Int64) async throws -> Int { try await self.base.forgetEventIDs(seenBefore: seenBefore) }
        func cursor(of consumer: String) async throws -> Int64 { try await self.base.cursor(of: consumer) }
        func fanOut(consumer: String, through sequence: Int64, deliveries: [NewDelivery], now: Int64) async throws -> Int64 {
            try await self.base.fanOut(consumer: consumer, through: sequence, deliveries: deliveries, now: now)
        }
        func enqueue(consumer: String, deliveries: [NewDelivery], now: Int64) async throws -> Int {
            try await self.base.enqueue(consumer: consumer, deliveries: deliveries, now: now)
        }
        func pending(consumer: String, partitions: [Int]?, dueBy: Int64?, limit: Int) async throws -> [PendingDelivery] {
            let delivered = self.calls.withLock { $0.dropFirst(self.failures).joined().count { if case .delivered = $0 { true } else { false } } }
            if self.appended - delivered > self.behind { self.readsWhileBehind.add(1, ordering: .relaxed) }
            return try await self.base.pending(consumer: consumer, partitions: partitions, dueBy: dueBy, limit: limit)
        }
        func deadLetters(consumer: String?, afterID: Int64?, limit: Int) async throws -> [DeadLetter] {
            try await self.base.deadLetters(consumer: consumer, afterID: afterID, limit: limit)
        }
        func retryDeadLetters(_ selection: DeadLetterSelection, now: Int64) async throws -> Int { try await self.base.retryDeadLetters(selection, now: now) }
        func clearDeadLetters(_ selection: DeadLetterSelection) async throws -> Int { try await self.base.clearDeadLetters(selection) }
        func consumerStates() async throws -> [ConsumerDeliveryState] { try await self.base.consumerStates() }
        func removeConsumerState(_ consumer: String) async throws { try await self.base.removeConsumerState(consumer) }
        func acquireLeases(consumer: String, partitionCount: Int, node: String, max: Int, ttl: Int64, now: Int64) async throws -> [Int] {
            try await self.base.acquireLeases(consumer: consumer, partitionCount: partitionCount, node: node, max: max, ttl: ttl, now: now)
        }
        func releaseLeases(node: String, consumer: String?) async throws -> Int { try await self.base.releaseLeases(node: node, consumer: consumer) }
        func saveDefinition(_ kind: StoredDefinition.Kind, name: String, body: String, now: Int64) async throws {
            try await self.base.saveDefinition(kind, name: name, body: body, now: now)
        }
        func definitions(_ kind: StoredDefinition.Kind) async throws -> [StoredDefinition] {
            guard self.definitionCalls.add(1, ordering: .relaxed).newValue > self.definitionFailures else { throw StoreError("connection refused") }
            return try await self.base.definitions(kind)
        }
        func removeDefinition(_ kind: StoredDefinition.Kind, name: String) async throws -> Bool { try await self.base.removeDefinition(kind, name: name) }
    }

    typealias FakeTarget = EventBusTests.FakeTarget

    /// Appends `count` events `e0`, `e1`, … (sequences 1, 2, …; partition key `key(index)`) to a
    /// fresh store, runs a dispatcher of `consumer` over it until `done` holds, stops it, and
    /// hands `body` the store.
    static func run(
        _ consumer: EventConsumer, events count: Int, key: (Int) -> String? = { _ in nil }, target: FakeTarget,
        delay: Duration = .milliseconds(2), failures: Int = 0, pollInterval: Int64 = 50, behind: Int = .max,
        onGone: @escaping @Sendable () -> Void = {},
        until done: @Sendable (RecordingStore) async throws -> Bool,
        then body: (RecordingStore) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-dispatch-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let base = try SQLiteEventStore(path: directory.appendingPathComponent("events.sqlite").path, sync: .normal)
        defer { try? base.close() }
        let store = RecordingStore(base, delay: delay, failures: failures, appended: count, behind: behind)
        let now = EventBus.systemClock()
        let events = (0..<count).map { Event(eventID: "e\($0)", type: "order.created", data: ByteBuffer(string: "{}"), timestamp: now, partitionKey: key($0)) }
        _ = try await store.append(events, now: now, idempotencyWindow: 60_000)
        let dispatcher = EventDispatcher(
            consumer: consumer, store: store, target: target, node: "n", liveNodes: { 1 }, clock: EventBus.systemClock,
            timing: EventDispatcher.Timing(leaseTTL: 3_000, pollInterval: pollInterval, errorBackoff: 50),
            metrics: EventBusMetrics(factory: NOOPMetricsHandler.instance), logger: Logger(label: "test")
        ) { _ in onGone() }
        let run = Task { await dispatcher.run() }
        try await EventBusTests.eventually { try await done(store) }
        dispatcher.stop()
        await run.value
        try await body(store)
    }

    /// A store that cannot answer when the bus starts (PostgreSQL stopped just after it was
    /// ready): the bus keeps trying, then runs with the saved consumer; the hub is not stopped.
    @Test func aStoreThatFailsAtStartIsWaitedFor() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-dispatch-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let base = try SQLiteEventStore(path: directory.appendingPathComponent("events.sqlite").path, sync: .normal)
        defer { try? base.close() }
        try await base.saveDefinition(.consumer, name: "saved", body: #"{"types": ["order.*"], "target": {"handler": "h"}}"#, now: 0)
        let store = RecordingStore(base, definitionFailures: 3)
        let bus = try EventBus(options: EventBus.Options(), openStore: { store }, makeTarget: { _, _ in FakeTarget() })
        let run = Task { try await bus.run() }
        try await EventBusTests.eventually { (try? await bus.runningStore()) != nil }
        #expect(store.definitionCalls.load(ordering: .relaxed) > 3)
        #expect(bus.consumers().map(\.consumer.name) == ["saved"])
        run.cancel()
        _ = await run.result
    }

    static func pending(_ store: RecordingStore) async throws -> Int {
        try await store.consumerStates().first { $0.consumer == "c" }?.pending ?? -1
    }

    /// Fanned out and nothing pending: every event was delivered (and recorded so).
    static func allDelivered(_ store: RecordingStore, _ count: Int) async throws -> Bool {
        let cursor = try await store.cursor(of: "c")
        let pending = try await Self.pending(store)
        return cursor == Int64(count) && pending == 0
    }

    @Test func aBurstOfCompletionsIsRecordedInFewTransactionsAndNoneIsLost() async throws {
        let count = 1_000
        let target = FakeTarget()
        let consumer = try EventBusTests.consumer("c", extra: #", "concurrency": 200, "ordering": "unordered""#)
        try await Self.run(consumer, events: count, target: target, until: { try await Self.allDelivered($0, count) }) { store in
            let calls = store.recorded
            // Each delivered once, each success recorded once, in a few calls.
            #expect(target.recorded.count == count)
            #expect(Set(target.recorded.map(\.eventID)).count == count)
            #expect(calls.flatMap { $0 }.count == count)
            #expect(Set(calls.flatMap { $0 }.map(\.sequence)) == Set(1...Int64(count)))
            #expect(calls.allSatisfy { $0.allSatisfy { if case .delivered = $0 { true } else { false } } })
            #expect(calls.count < count / 10, "\(calls.count) record calls for \(count) deliveries")
            let letters = try await store.deadLetters(consumer: nil, afterID: nil, limit: 10)
            #expect(letters.isEmpty)
        }
    }

    /// A batch whose transaction fails is as a failed record was: each of its deliveries stays
    /// pending and is attempted again after the error backoff (at-least-once).
    @Test func aConsumerBehindDoesNotReadWhatItHoldsAgainAtEveryLook() async throws {
        // 3,000 events at 16 in flight, looks every 5 ms: while more than 1,500 wait, the loop
        // holds a page of 1,000 and reads again only as it runs below half of it (about 3
        // reads); reading at every look was dozens.
        let count = 3_000
        let target = FakeTarget()
        let consumer = try EventBusTests.consumer("c", extra: #", "concurrency": 16, "ordering": "unordered""#)
        try await Self.run(
            consumer, events: count, target: target, pollInterval: 5, behind: 1_500, until: { try await Self.allDelivered($0, count) }
        ) { store in
            #expect(Set(target.recorded.map(\.eventID)).count == count)
            let reads = store.readsWhileBehind.load(ordering: .relaxed)
            #expect(reads >= 1 && reads <= 10, "\(reads) reads of pending deliveries while more than 1,500 were left")
        }
    }

    @Test func aFailedBatchLeavesItsDeliveriesPendingAndTheyAreDeliveredAgain() async throws {
        let count = 200
        let target = FakeTarget()
        let consumer = try EventBusTests.consumer("c", extra: #", "concurrency": 200, "ordering": "unordered""#)
        try await Self.run(consumer, events: count, target: target, failures: 1, until: { try await Self.allDelivered($0, count) }) { store in
            let calls = store.recorded
            let lost = try #require(calls.first)
            #expect(!lost.isEmpty)
            // Those of the failed call were attempted twice, the rest once.
            let attempts = Dictionary(grouping: target.recorded, by: \.eventID).mapValues(\.count)
            let twice = Set(lost.map { "e\($0.sequence - 1)" })
            #expect(attempts.count == count)
            #expect(attempts.allSatisfy { $0.value == (twice.contains($0.key) ? 2 : 1) })
            #expect(calls.dropFirst().flatMap { $0 }.count == count)
        }
    }

    /// An ordered consumer under a burst, with failures and retries: one delivery per key at a
    /// time, each key's events attempted in log order.
    @Test func anOrderedConsumerKeepsEachKeysOrderUnderABurst() async throws {
        let keys = 8
        let count = 240
        let inFlight = Mutex<Set<String>>([])
        let overlaps = Atomic<Int>(0)
        let target = FakeTarget { event, attempt in
            let key = event.event.partitionKey ?? ""
            if inFlight.withLock({ !$0.insert(key).inserted }) { overlaps.add(1, ordering: .relaxed) }
            try? await Task.sleep(for: .microseconds(Int.random(in: 0...500)))
            inFlight.withLock { _ = $0.remove(key) }
            // Every fifth event fails its first attempt: it holds its key until retried.
            return event.sequence % 5 == 0 && attempt == 1 ? EventDeliveryResult(outcome: .failed(), statusCode: 500, error: "once") : .succeeded
        }
        let consumer = try EventBusTests.consumer(
            "c", retry: #"{"base": "5ms", "cap": "5ms", "max_attempts": 5, "jitter": "none"}"#, extra: #", "concurrency": 64, "ordering": "ordered""#)
        try await Self.run(consumer, events: count, key: { "k\($0 % keys)" }, target: target, until: { try await Self.allDelivered($0, count) }) { store in
            #expect(overlaps.load(ordering: .relaxed) == 0)
            for key in 0..<keys {
                let attempted = target.recorded.filter { $0.key == "k\(key)" }.map { Int($0.eventID.dropFirst())! }
                let expected = stride(from: key, to: count, by: keys).flatMap { index in (index + 1) % 5 == 0 ? [index, index] : [index] }
                #expect(attempted == expected, "key k\(key)")
            }
            let calls = store.recorded
            #expect(calls.flatMap { $0 }.count == target.recorded.count)
            #expect(calls.count < target.recorded.count, "\(calls.count) record calls for \(target.recorded.count) attempts")
        }
    }

    /// 410 Gone in a batch: the consumer stops at that outcome. It and those before it are
    /// recorded, the gone delivery stays pending with its attempt; nothing after is recorded.
    @Test func goneInABatchStopsTheConsumerAtThatOutcome() async throws {
        let count = 40
        let started = Atomic<Int>(0)
        let gone = Atomic<Int>(0)
        let target = FakeTarget { event, _ in
            // All start, then all finish together: their completions come in a burst.
            started.add(1, ordering: .relaxed)
            while started.load(ordering: .relaxed) < count { try? await Task.sleep(for: .milliseconds(1)) }
            return event.event.eventID == "e20" ? EventDeliveryResult(outcome: .gone, statusCode: 410, error: "gone") : .succeeded
        }
        let consumer = try EventBusTests.consumer("c", extra: #", "concurrency": 100, "ordering": "unordered""#)
        try await Self.run(
            consumer, events: count, target: target, delay: .milliseconds(20), onGone: { gone.add(1, ordering: .relaxed) },
            until: { _ in gone.load(ordering: .relaxed) > 0 }
        ) { store in
            #expect(gone.load(ordering: .relaxed) == 1)
            #expect(target.recorded.count == count)
            let calls = store.recorded
            let last = try #require(calls.last?.last)
            guard case .failed(21, let attempt, _) = last else {
                Issue.record("the last record is \(last), not e20's failure")
                return
            }
            #expect(attempt.statusCode == 410)
            // The gone delivery waits for the consumer, with its attempt; those recorded before it are delivered.
            let pending = try await store.pending(consumer: "c", partitions: nil, dueBy: nil, limit: 100)
            let gonePending = try #require(pending.first { $0.event.sequence == 21 })
            #expect(gonePending.attempts == 1 && gonePending.lastError == "gone")
            let delivered = Set(calls.flatMap { $0 }.filter { if case .delivered = $0 { true } else { false } }.map(\.sequence))
            #expect(Set(pending.map(\.event.sequence)) == Set(1...Int64(count)).subtracting(delivered))
        }
    }
}
