import ChorusCore
import ChorusSQLite
import CoreMetrics
import Foundation
import Logging
import NIOCore
import Synchronization
import Testing

@testable import ChorusServer

/// The event bus joined: publish (validation, schemas, group commit, duplicates) and the
/// dispatcher against `SQLiteEventStore` in a temporary directory, with fake targets that
/// succeed, fail, reject, say gone or ask for Retry-After. Waits poll the store for an outcome
/// (never assert a time).
// One at a time: each test runs a bus with its own SQLite file and dispatchers, and the suite's
// fourteen starting at once under a loaded parallel run once outwaited the bus's start-up wait.
@Suite(.serialized) struct EventBusTests {
    /// A target that answers from a script per event id, and records every attempt.
    final class FakeTarget: EventTarget {
        struct Attempt: Sendable {
            var eventID: String
            var attempt: Int
            var key: String?
        }

        let answer: @Sendable (LoggedEvent, Int) async -> EventDeliveryResult
        let attempts = Mutex<[Attempt]>([])

        init(_ answer: @escaping @Sendable (LoggedEvent, Int) async -> EventDeliveryResult = { _, _ in .succeeded }) {
            self.answer = answer
        }

        func deliver(_ event: LoggedEvent, consumer: String, attempt: Int) async -> EventDeliveryResult {
            self.attempts.withLock { $0.append(Attempt(eventID: event.event.eventID, attempt: attempt, key: event.event.partitionKey)) }
            return await self.answer(event, attempt)
        }

        var recorded: [Attempt] { self.attempts.withLock { $0 } }
    }


    static func consumer(_ name: String, retry: String = #"[0.05, 0.05]"#, extra: String = "") throws -> EventConsumer {
        let text = #"{"name": "\#(name)", "types": ["order.*"], "target": {"handler": "h"}, "retry": \#(retry)\#(extra)}"#
        return try EventConsumer(parsing: ByteBuffer(string: text))
    }

    /// Runs a bus over a fresh SQLite store with `consumers`, delivering to `target`, for `body`.
    static func withBus(
        consumers: [EventConsumer], schemas: [String: String] = [:], target: FakeTarget,
        _ body: @Sendable (EventBus, SQLiteEventStore) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-bus-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteEventStore(path: directory.appendingPathComponent("events.sqlite").path, sync: .normal)
        var options = EventBus.Options()
        options.consumers = consumers
        options.schemas = schemas
        options.timing = EventDispatcher.Timing(leaseTTL: 3_000, pollInterval: 50, errorBackoff: 50)
        let bus = try EventBus(options: options, openStore: { store }, makeTarget: { _, _ in target })
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await bus.run() }
            // The bus's own wait for its start is 10 s; a loaded machine may take longer.
            let started = ContinuousClock.now
            while (try? await bus.runningStore()) == nil {
                guard ContinuousClock.now - started < .seconds(60) else {
                    Issue.record("the bus did not start within 60 s")
                    group.cancelAll()
                    return
                }
            }
            try await body(bus, store)
            group.cancelAll()
        }
    }

    /// Polls `condition` until it holds (at most 20 s, then fails).
    static func eventually(_ condition: @Sendable () async throws -> Bool, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        for _ in 0..<2_000 {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("condition never held", sourceLocation: sourceLocation)
    }

    static func publish(_ bus: EventBus, _ id: String, key: String? = nil, data: String = #"{"n": 1}"#) async throws -> EventReceipt {
        try await bus.publish(EventPublish(type: "order.created", data: ByteBuffer(string: data), eventID: id, partitionKey: key))
    }

    @Test func aPublishedEventIsDeliveredOnceAndADuplicateGetsTheOriginalsReceipt() async throws {
        let target = FakeTarget()
        try await Self.withBus(consumers: [try Self.consumer("c")], target: target) { bus, store in
            let first = try await Self.publish(bus, "e1")
            let again = try await Self.publish(bus, "e1")
            #expect(!first.duplicate)
            #expect(again.duplicate && again.sequence == first.sequence)
            try await Self.eventually {
                let pending = try await store.consumerStates().first?.pending
                return pending == 0 && !target.recorded.isEmpty
            }
            try await Task.sleep(for: .milliseconds(200))
            #expect(target.recorded.map(\.eventID) == ["e1"])
        }
    }

    /// A commit wakes every dispatcher. Wakes once queued one look each (each a few store
    /// queries), with the deliveries' completions behind them, and ``EventDispatcher/stop()``
    /// left the loop to work through them all: a burst stalled deliveries and outlasted the
    /// shutdown timeout. Counted by the clock the dispatcher reads (at least once per look).
    @Test func wakesWhileTheDispatcherIsBusyCostOneLookAndStopEndsItAtOnce() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-bus-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteEventStore(path: directory.appendingPathComponent("events.sqlite").path, sync: .normal)
        let readings = Atomic<Int>(0)
        let dispatcher = EventDispatcher(
            consumer: try Self.consumer("c"), store: store, target: FakeTarget(), node: "n", liveNodes: { 1 },
            clock: {
                readings.add(1, ordering: .relaxed)
                return EventBus.systemClock()
            },
            timing: EventDispatcher.Timing(leaseTTL: 3_000, pollInterval: 50, errorBackoff: 50),
            metrics: EventBusMetrics(factory: NOOPMetricsHandler.instance), logger: Logger(label: "test")
        ) { _ in }
        let run = Task { await dispatcher.run() }
        let wakes = 20_000
        for _ in 0..<wakes { dispatcher.wake() }
        dispatcher.stop()
        await run.value
        // Coalesced, a burst costs as many looks as the loop had time for, not one per wake.
        #expect(readings.load(ordering: .relaxed) < wakes / 10)
    }

    @Test func aFailingDeliveryIsRetriedUntilItSucceeds() async throws {
        let target = FakeTarget { _, attempt in attempt < 3 ? EventDeliveryResult(outcome: .failed(), statusCode: 500, error: "boom") : .succeeded }
        try await Self.withBus(consumers: [try Self.consumer("c")], target: target) { bus, store in
            _ = try await Self.publish(bus, "e1")
            try await Self.eventually {
                let pending = try await store.consumerStates().first?.pending
                return target.recorded.count == 3 && pending == 0
            }
            #expect(target.recorded.map(\.attempt) == [1, 2, 3])
            #expect(try await store.deadLetters(consumer: nil, afterID: nil, limit: 10).isEmpty)
        }
    }

    @Test func afterTheLastAttemptTheEventIsDeadLetteredWithEveryAttemptAndRetryRedelivers() async throws {
        let succeed = Atomic(false)
        let target = FakeTarget { _, _ in succeed.load(ordering: .relaxed) ? .succeeded : EventDeliveryResult(outcome: .failed(), statusCode: 503, error: "down") }
        try await Self.withBus(consumers: [try Self.consumer("c")], target: target) { bus, store in
            _ = try await Self.publish(bus, "e1")
            try await Self.eventually { try await store.deadLetters(consumer: "c", afterID: nil, limit: 10).count == 1 }
            let letter = try #require(try await store.deadLetters(consumer: "c", afterID: nil, limit: 10).first)
            #expect(letter.attempts.map(\.number) == [1, 2, 3])
            #expect(letter.attempts.allSatisfy { $0.statusCode == 503 && $0.error == "down" })
            succeed.store(true, ordering: .relaxed)
            #expect(try await store.retryDeadLetters(.all, now: EventBus.systemClock()) == 1)
            bus.wakeAll()
            try await Self.eventually {
                let pending = try await store.consumerStates().first?.pending
                return target.recorded.count == 4 && pending == 0
            }
            #expect(try await store.deadLetters(consumer: nil, afterID: nil, limit: 10).isEmpty)
        }
    }

    @Test func aRejectedEventIsDeadLetteredAtOnce() async throws {
        let target = FakeTarget { _, _ in EventDeliveryResult(outcome: .rejected, error: "never") }
        try await Self.withBus(consumers: [try Self.consumer("c")], target: target) { bus, store in
            _ = try await Self.publish(bus, "e1")
            try await Self.eventually { try await store.deadLetters(consumer: "c", afterID: nil, limit: 10).count == 1 }
            #expect(target.recorded.count == 1)
        }
    }

    @Test func goneDisablesTheConsumerDurably() async throws {
        let target = FakeTarget { _, _ in EventDeliveryResult(outcome: .gone, statusCode: 410, error: "gone") }
        try await Self.withBus(consumers: [try Self.consumer("c")], target: target) { bus, store in
            _ = try await Self.publish(bus, "e1")
            try await Self.eventually { bus.consumers().first?.consumer.enabled == false }
            _ = try await Self.publish(bus, "e2")
            try await Task.sleep(for: .milliseconds(200))
            #expect(target.recorded.count == 1)
            let saved = try await store.definitions(.consumer)
            #expect(saved.map(\.name) == ["c"] && saved[0].body.contains(#""enabled":false"#))
            // Its events wait for it: the one attempted stays pending, the next is not fanned out.
            let state = try #require(try await store.consumerStates().first)
            #expect(state.pending == 1 && state.cursor == 1)
        }
    }

    @Test func retryAfterLengthensTheNextDelay() async throws {
        let target = FakeTarget { _, attempt in
            attempt == 1 ? EventDeliveryResult(outcome: .http(status: 429, retryAfter: .seconds(30)), statusCode: 429, error: "slow down") : .succeeded
        }
        try await Self.withBus(consumers: [try Self.consumer("c")], target: target) { bus, store in
            let before = EventBus.systemClock()
            _ = try await Self.publish(bus, "e1")
            try await Self.eventually { (try await store.pending(consumer: "c", partitions: nil, dueBy: nil, limit: 10).first?.attempts) == 1 }
            let pending = try #require(try await store.pending(consumer: "c", partitions: nil, dueBy: nil, limit: 10).first)
            #expect(pending.nextAttemptAt >= before + 30_000)
            #expect(target.recorded.count == 1)
        }
    }

    @Test func aFailingKeyHoldsItsLaterEventsWhileOtherKeysGoOn() async throws {
        let release = Atomic(false)
        let target = FakeTarget { event, _ in
            event.event.eventID == "a1" && !release.load(ordering: .relaxed) ? EventDeliveryResult(outcome: .failed(), error: "hold") : .succeeded
        }
        let consumer = try Self.consumer("c", retry: #"{"base": "20ms", "cap": "20ms", "max_attempts": 100, "jitter": "none"}"#)
        try await Self.withBus(consumers: [consumer], target: target) { bus, store in
            for (id, key) in [("a1", "a"), ("a2", "a"), ("b1", "b"), ("b2", "b")] { _ = try await Self.publish(bus, id, key: key) }
            try await Self.eventually { Set(target.recorded.map(\.eventID)).isSuperset(of: ["b1", "b2"]) && target.recorded.filter { $0.eventID == "a1" }.count >= 3 }
            #expect(!target.recorded.contains { $0.eventID == "a2" })
            release.store(true, ordering: .relaxed)
            try await Self.eventually { (try await store.consumerStates().first?.pending) == 0 }
            let a = target.recorded.filter { $0.key == "a" }.map(\.eventID)
            #expect(a.last == "a2" && a.filter { $0 == "a2" }.count == 1)
        }
    }

    @Test func aFilterAndTypePatternsSelectTheEvents() async throws {
        let target = FakeTarget()
        let consumer = try Self.consumer("c", extra: #", "filter": "n >= 2""#)
        try await Self.withBus(consumers: [consumer], target: target) { bus, store in
            _ = try await Self.publish(bus, "e1", data: #"{"n": 1}"#)
            _ = try await Self.publish(bus, "e2", data: #"{"n": 2}"#)
            _ = try await bus.publish(EventPublish(type: "user.created", data: ByteBuffer(string: #"{"n": 5}"#), eventID: "u1"))
            try await Self.eventually {
                let cursor = try await store.cursor(of: "c")
                let pending = try await store.consumerStates().first?.pending
                return cursor == 3 && pending == 0
            }
            #expect(target.recorded.map(\.eventID) == ["e2"])
        }
    }

    @Test func dataFailingItsSchemaIsRefusedWithThePointer() async throws {
        let schema = #"{"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}"#
        try await Self.withBus(consumers: [], schemas: ["order.created": schema], target: FakeTarget()) { bus, store in
            await #expect(throws: EventSchemaViolation.self) { _ = try await Self.publish(bus, "e1", data: #"{"n": "x"}"#) }
            do {
                _ = try await Self.publish(bus, "e1", data: #"{"n": "x"}"#)
            } catch let violation as EventSchemaViolation {
                #expect(violation.violations.map(\.instanceLocation) == ["/n"])
            }
            #expect(try await store.stats().count == 0)
        }
    }

    @Test func badInputIsRefusedBeforeTheStore() async throws {
        try await Self.withBus(consumers: [], target: FakeTarget()) { bus, store in
            for publish in [
                EventPublish(type: "order.*", data: ByteBuffer(string: "1")),
                EventPublish(type: "order.created", data: ByteBuffer(string: "{")),
                EventPublish(type: "order.created", data: ByteBuffer(string: "1"), eventID: String(repeating: "x", count: 129)),
                EventPublish(type: "order.created", data: ByteBuffer(string: "\"" + String(repeating: "x", count: 70_000) + "\"")),
            ] {
                await #expect(throws: ProtocolError.self) { _ = try await bus.publish(publish) }
            }
            let count = try await store.stats().count
            #expect(count == 0)
        }
    }

    @Test func concurrentPublishesAreAllAcknowledgedWithDistinctSequences() async throws {
        try await Self.withBus(consumers: [], target: FakeTarget()) { bus, store in
            let receipts = try await withThrowingTaskGroup(of: EventReceipt.self) { group in
                for index in 0..<200 { group.addTask { try await Self.publish(bus, "e\(index)") } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(receipts.map(\.sequence)).count == 200)
            #expect(try await store.stats().count == 200)
        }
    }

    /// The path `event_publish` frames take: no task, the answer from the committer's thread.
    static func publishAnswered(_ bus: EventBus, _ publish: EventPublish) async -> Result<[EventReceipt], any Error> {
        await withCheckedContinuation { continuation in bus.publish([publish]) { continuation.resume(returning: $0) } }
    }

    @Test func publishesAnsweredByCompletionAreCommittedAndRefusedAsTheAsyncOnes() async throws {
        let schema = #"{"type": "object", "required": ["n"]}"#
        try await Self.withBus(consumers: [], schemas: ["order.created": schema], target: FakeTarget()) { bus, store in
            let results = await withTaskGroup(of: Result<[EventReceipt], any Error>.self) { group in
                for index in 0..<100 {
                    group.addTask { await Self.publishAnswered(bus, EventPublish(type: "order.created", data: ByteBuffer(string: #"{"n": 1}"#), eventID: "c\(index)")) }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let receipts = try results.map { try #require(try $0.get().first) }
            #expect(Set(receipts.map(\.sequence)).count == 100 && receipts.allSatisfy { !$0.duplicate })
            let again = try await Self.publishAnswered(bus, EventPublish(type: "order.created", data: ByteBuffer(string: #"{"n": 2}"#), eventID: "c7")).get()
            #expect(again.first?.duplicate == true && again.first?.sequence == receipts.first { $0.eventID == "c7" }?.sequence)
            let invalid = await Self.publishAnswered(bus, EventPublish(type: "order.created", data: ByteBuffer(string: #"{"m": 1}"#)))
            #expect(throws: EventSchemaViolation.self) { try invalid.get() }
            let bad = await Self.publishAnswered(bus, EventPublish(type: "order.*", data: ByteBuffer(string: "1")))
            #expect(throws: ProtocolError.self) { try bad.get() }
            #expect(try await store.stats().count == 100)
        }
    }

    @Test func consumerDefinitionsAreCheckedWithTheMemberNamed() throws {
        for (text, expected) in [
            (#"{"name": "c", "types": [], "target": {"handler": "h"}}"#, "'types'"),
            (#"{"name": "c", "types": ["a"], "target": {"smtp": {}}}"#, "unknown target"),
            (#"{"name": "c", "types": ["a"], "target": {"handler": "h"}, "filter": "a = 1"}"#, "invalid filter"),
            (#"{"name": "c", "types": ["a"], "target": {"webhook": {"url": "ftp://x", "secrets": []}}}"#, "url"),
            (#"{"name": "c", "types": ["a"], "target": {"bridge": {"topics": ["x.{nope}"]}}}"#, "template"),
            (#"{"name": "c", "types": ["a"], "target": {"handler": "h"}, "retry": {"base": "2s", "cap": "1s"}}"#, "cap"),
            (#"{"name": "c", "types": ["a"], "target": {"handler": "h"}, "colour": 1}"#, "'colour'"),
            // The lists' bounds, as docs/openapi.yaml has them (schemathesis sent five secrets).
            (#"{"name": "c", "types": [\#((0..<17).map { "\"t\($0)\"" }.joined(separator: ","))], "target": {"handler": "h"}}"#, "at most 16 patterns"),
            (#"{"name": "c", "types": ["a"], "target": {"webhook": {"url": "https://x", "secrets": [\#(Array(repeating: "\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"", count: 5).joined(separator: ","))]}}}"#, "at most 4 'secrets'"),
            (#"{"name": "c", "types": ["a"], "target": {"bridge": {"topics": [\#((0..<17).map { "\"b\($0)\"" }.joined(separator: ","))]}}}"#, "at most 16 'topics'"),
            (#"{"name": "c", "types": ["a"], "target": {"handler": "h"}, "retry": [\#(Array(repeating: "1", count: 21).joined(separator: ","))]}"#, "at most 20 delays"),
        ] {
            #expect {
                _ = try EventConsumer(parsing: ByteBuffer(string: text))
            } throws: { error in
                (error as? ConfigurationError)?.message.contains(expected) == true
            }
        }
    }

    @Test func bridgeTemplatesFillInTheTypeAndDataPaths() throws {
        let event = Event(eventID: "e", type: "order.created", data: ByteBuffer(string: #"{"customer": {"id": 42}, "tags": ["vip"]}"#), timestamp: 0)
        #expect(BridgeTemplate("events.{type}")?.topic(for: event)?.name == "events.order.created")
        #expect(BridgeTemplate("orders.{data.customer.id}")?.topic(for: event)?.name == "orders.42")
        #expect(BridgeTemplate("tags.{data.tags.0}")?.topic(for: event)?.name == "tags.vip")
        #expect(BridgeTemplate("orders.{data.missing}")?.topic(for: event) == nil)
        #expect(BridgeTemplate("orders.{data.customer}")?.topic(for: event) == nil)
        #expect(BridgeTemplate("orders.{nope}") == nil)
        #expect(BridgeTemplate("orders.{type") == nil)
        // Text no topic could have: a wildcard, an empty segment, longer than a topic may be.
        #expect(BridgeTemplate("orders.*") == nil)
        #expect(BridgeTemplate("orders..{type}") == nil)
        #expect(BridgeTemplate("x." + String(repeating: "a", count: 300)) == nil)
        #expect(BridgeTemplate("x." + String(repeating: "a", count: 200) + ".{type}") != nil)
    }

    @Test func handlerTargetsRunTheRegisteredClosureAndMapItsOutcome() async throws {
        struct Boom: Error {}
        let handlers = EventHandlers()
        let event = LoggedEvent(sequence: 1, event: Event(eventID: "e", type: "order.created", data: ByteBuffer(string: "{}"), timestamp: 0))
        let missing = await HandlerTarget(name: "h", handlers: handlers).deliver(event, consumer: "c", attempt: 1)
        #expect(missing.outcome == .failed() && missing.error?.contains("no handler") == true)
        let seen = Mutex<[String]>([])
        handlers.register({ event in seen.withLock { $0.append(event.event.eventID) } }, named: "ok")
        handlers.register({ _ in throw Boom() }, named: "boom")
        handlers.register({ _ in throw EventRejected("bad order") }, named: "reject")
        #expect(await HandlerTarget(name: "ok", handlers: handlers).deliver(event, consumer: "c", attempt: 1).outcome == .succeeded)
        #expect(seen.withLock { $0 } == ["e"])
        #expect(await HandlerTarget(name: "boom", handlers: handlers).deliver(event, consumer: "c", attempt: 1).outcome == .failed())
        let rejected = await HandlerTarget(name: "reject", handlers: handlers).deliver(event, consumer: "c", attempt: 1)
        #expect(rejected.outcome == .rejected && rejected.error == "bad order")
    }
}
