import ChorusCore
import ChorusSQLite
import ChorusTestSupport
import Foundation
import Logging
import NIOCore
import PostgresNIO
import Testing

@testable import ChorusPostgres

/// One contract for the event bus's two stores (docs/event-bus.md): every case runs on
/// SQLiteEventStore and on PostgresEventStore, each on a fresh database. Times are passed in,
/// nothing sleeps. `other` is a second node on the same database (PostgreSQL: a second pool;
/// SQLite is one node, so it is the same store).
@Suite(.serialized) struct EventStoreContractTests {
    typealias Case = @Sendable (_ store: any EventStore, _ other: any EventStore) async throws -> Void

    static let hour: Int64 = 3_600_000

    static func event(_ id: String, type: String = "order.created", at timestamp: Int64 = 1_000, key: String? = nil, data: String = #"{"n":1}"#) -> Event {
        Event(eventID: id, type: type, data: ByteBuffer(string: data), timestamp: timestamp, partitionKey: key)
    }

    @discardableResult
    static func append(_ store: any EventStore, _ events: [Event], now: Int64 = 1_000) async throws -> [EventReceipt] {
        try await store.append(events, now: now, idempotencyWindow: Self.hour)
    }

    static func everything(_ store: any EventStore) async throws -> [LoggedEvent] {
        try await store.events(EventQuery(limit: 1_000))
    }

    // MARK: - Engines

    @Test(arguments: Self.cases.map(\.name))
    func sqlite(_ name: String) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-events-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteEventStore(path: directory.appendingPathComponent("events.sqlite").path)
        try await Self.cases.first { $0.name == name }!.run(store, store)
        try store.close()
    }

    @Test func postgres() async throws {
        try await PostgresServiceTests.eachOnTwoNodes(Self.cases.count, database: "contract") { index, node, second in
            try await Self.cases[index].run(PostgresEventStore(client: node.client), PostgresEventStore(client: second.client))
        }
    }

    static let cases: [(name: String, run: Case)] = [
        ("appendAndRead", appendAndRead), ("idempotencyWindow", idempotencyWindow), ("concurrentDuplicates", concurrentDuplicates),
        ("fanOutAfterACrash", fanOutAfterACrash), ("failuresAndDeadLetters", failuresAndDeadLetters),
        ("deadLetterRetryAndClear", deadLetterRetryAndClear), ("replay", replay), ("retention", retention), ("leases", leases),
        ("concurrentLeases", concurrentLeases), ("definitions", definitions), ("recordInABatch", recordInABatch),
    ]

    // MARK: - The log

    static func appendAndRead(_ store: any EventStore, _: any EventStore) async throws {
        #expect(try await store.lastSequence() == 0)
        var rich = Self.event("a", type: "order.created", at: 100, key: "k1", data: #"{"id":7,"s":"é"}"#)
        rich.correlationID = "req-1"
        rich.headers = ["x-one": "1", "x-two": "2"]
        let receipts = try await Self.append(store, [rich, Self.event("b", type: "order.paid", at: 200), Self.event("c", at: 300)])
        #expect(receipts.map(\.duplicate) == [false, false, false])
        #expect(receipts[0].sequence < receipts[1].sequence && receipts[1].sequence < receipts[2].sequence)
        #expect(receipts.map(\.timestamp) == [100, 200, 300])
        let more = try await Self.append(store, [Self.event("d", type: "order.paid", at: 400)])
        #expect(more[0].sequence > receipts[2].sequence)

        let all = try await Self.everything(store)
        #expect(all.map(\.event.eventID) == ["a", "b", "c", "d"])
        #expect(all[0].event == rich)
        // What was not given reads back as not given, not as empty, beside one that was.
        #expect(all[1].event == Self.event("b", type: "order.paid", at: 200))
        #expect(all[1].event.correlationID == nil && all[1].event.partitionKey == nil && all[1].event.headers.isEmpty)
        #expect(all[0].sequence == receipts[0].sequence)
        #expect(try await store.events(EventQuery(afterSequence: receipts[1].sequence, limit: 10)).map(\.event.eventID) == ["c", "d"])
        #expect(try await store.events(EventQuery(order: .newestFirst, limit: 2)).map(\.event.eventID) == ["d", "c"])
        #expect(
            try await store.events(EventQuery(beforeSequence: receipts[2].sequence, order: .newestFirst, limit: 10)).map(\.event.eventID) == ["b", "a"])
        #expect(try await store.events(EventQuery(types: ["order.paid"], limit: 10)).map(\.event.eventID) == ["b", "d"])
        #expect(try await store.events(EventQuery(since: 200, until: 400, limit: 10)).map(\.event.eventID) == ["b", "c"])
        #expect(try await store.events(EventQuery(types: [], limit: 10)).isEmpty)

        let stats = try await store.stats()
        #expect(stats.count == 4)
        #expect(stats.bytes == all.map(\.event.storedSize).reduce(0, +))
        #expect(stats.oldestSequence == receipts[0].sequence && stats.oldestTimestamp == 100)
        #expect(stats.lastSequence == more[0].sequence && stats.newestTimestamp == 400)
        #expect(try await store.lastSequence() == more[0].sequence)
        #expect(stats.types["order.paid"]?.count == 2 && stats.types["order.paid"]?.newestSequence == more[0].sequence)
        #expect(stats.types["order.created"]?.count == 2)
    }

    static func idempotencyWindow(_ store: any EventStore, _: any EventStore) async throws {
        let first = try await Self.append(store, [Self.event("once", at: 50)], now: 1_000)[0]
        // Again within the window, and twice in one batch: the original's receipt.
        let again = try await Self.append(store, [Self.event("once", at: 60), Self.event("new", at: 70), Self.event("new", at: 80)], now: 1_000 + Self.hour - 1)
        #expect(again[0] == EventReceipt(sequence: first.sequence, eventID: "once", timestamp: 50, duplicate: true))
        #expect(!again[1].duplicate)
        #expect(again[2] == EventReceipt(sequence: again[1].sequence, eventID: "new", timestamp: 70, duplicate: true))
        #expect(try await Self.everything(store).count == 2)
        // Alone in its append, too.
        #expect(try await Self.append(store, [Self.event("once", at: 65)], now: 1_000 + Self.hour - 1) == [again[0]])
        #expect(try await store.lastSequence() == again[1].sequence)
        // Past the window, the id is new again.
        let later = try await Self.append(store, [Self.event("once", at: 90)], now: 1_000 + Self.hour)[0]
        #expect(!later.duplicate && later.sequence > again[1].sequence)
        #expect(try await Self.everything(store).count == 3)
        // Forgotten ids were first seen before the time given.
        #expect(try await store.forgetEventIDs(seenBefore: 1_000 + Self.hour - 1) == 0)
        #expect(try await store.forgetEventIDs(seenBefore: 1_000 + Self.hour) == 1)
    }

    /// Two nodes append the same ids at once: each id is appended once, every receipt of it agrees.
    static func concurrentDuplicates(_ store: any EventStore, _ other: any EventStore) async throws {
        let ids = (0..<40).map { "dup-\($0)" }
        let receipts = try await withThrowingTaskGroup(of: [EventReceipt].self) { group in
            for (node, batch) in [(store, ids), (other, ids.reversed()), (store, ids.shuffled()), (other, ids)] {
                group.addTask {
                    var receipts: [EventReceipt] = []
                    // Small batches, so the nodes' transactions interleave.
                    for start in stride(from: 0, to: batch.count, by: 5) {
                        receipts += try await Self.append(node, batch[start..<min(start + 5, batch.count)].map { Self.event($0) })
                    }
                    return receipts
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let byID = Dictionary(grouping: receipts, by: \.eventID)
        for (id, copies) in byID {
            #expect(copies.count == 4)
            #expect(copies.filter { !$0.duplicate }.count == 1, "\(id)")
            #expect(Set(copies.map(\.sequence)).count == 1, "\(id)")
        }
        let log = try await Self.everything(store)
        #expect(log.count == ids.count)
        #expect(Set(log.map(\.event.eventID)) == Set(ids))
    }

    // MARK: - Deliveries

    /// The dispatcher's fan-out, run again after a crash (or by another node): nothing twice,
    /// nothing delivered comes back, the cursor never moves back.
    static func fanOutAfterACrash(_ store: any EventStore, _ other: any EventStore) async throws {
        let receipts = try await Self.append(store, (1...5).map { Self.event("e\($0)", key: "k\($0 % 2)") })
        let logged = try await Self.everything(store)
        let matches = logged.filter { $0.sequence % 2 == 1 }.map { NewDelivery($0, partitionCount: 4) }
        #expect(try await store.cursor(of: "c") == 0)
        #expect(try await store.fanOut(consumer: "c", through: receipts[2].sequence, deliveries: matches, now: 10) == receipts[2].sequence)
        #expect(try await store.pending(consumer: "c", partitions: nil, dueBy: nil, limit: 10).map(\.event.sequence) == matches.map(\.sequence).filter { $0 <= receipts[2].sequence })
        let first = try await store.pending(consumer: "c", partitions: nil, dueBy: nil, limit: 1)[0]
        #expect(first.event == logged[0] && first.attempts == 0 && first.nextAttemptAt == 10 && first.partition == matches[0].partition)
        #expect(try await store.delivered(consumer: "c", sequence: first.event.sequence))
        #expect(try await !store.delivered(consumer: "c", sequence: first.event.sequence))

        // The crash: the same fan-out again, then the next one, each from either node.
        #expect(try await other.fanOut(consumer: "c", through: receipts[2].sequence, deliveries: matches, now: 20) == receipts[2].sequence)
        #expect(try await other.fanOut(consumer: "c", through: receipts[4].sequence, deliveries: matches, now: 20) == receipts[4].sequence)
        #expect(try await store.fanOut(consumer: "c", through: receipts[4].sequence, deliveries: matches, now: 30) == receipts[4].sequence)
        #expect(try await store.fanOut(consumer: "c", through: receipts[1].sequence, deliveries: matches, now: 30) == receipts[4].sequence)
        let pending = try await store.pending(consumer: "c", partitions: nil, dueBy: nil, limit: 10)
        #expect(pending.map(\.event.sequence) == Array(matches.map(\.sequence).dropFirst()))
        #expect(pending.map(\.nextAttemptAt) == [10, 20])
        // By partition: a node asks for the ones it holds.
        let partition = pending[1].partition
        #expect(try await store.pending(consumer: "c", partitions: [partition], dueBy: nil, limit: 10).allSatisfy { $0.partition == partition })
        #expect(try await store.pending(consumer: "c", partitions: [], dueBy: nil, limit: 10).isEmpty)
        #expect(try await store.consumerStates() == [ConsumerDeliveryState(consumer: "c", cursor: receipts[4].sequence, pending: 2, oldestPendingSequence: pending[0].event.sequence, deadLettered: 0)])
    }

    static func failuresAndDeadLetters(_ store: any EventStore, _: any EventStore) async throws {
        let sequence = try await Self.append(store, [Self.event("x", key: "order-1")])[0].sequence
        _ = try await store.fanOut(consumer: "hook", through: sequence, deliveries: [NewDelivery(sequence: sequence, partitionKey: "order-1", partition: 3)], now: 100)
        let first = DeliveryAttempt(at: 100, statusCode: 503, error: "HTTP 503", duration: 12)
        #expect(try await store.failed(consumer: "hook", sequence: sequence, attempt: first, retryAt: 1_100) == .rescheduled(attempts: 1))
        #expect(try await store.pending(consumer: "hook", partitions: nil, dueBy: 1_099, limit: 10).isEmpty)
        let due = try await store.pending(consumer: "hook", partitions: [3], dueBy: 1_100, limit: 10)
        #expect(due.count == 1 && due[0].attempts == 1 && due[0].lastError == "HTTP 503" && due[0].nextAttemptAt == 1_100)
        let last = DeliveryAttempt(at: 1_100, error: "connection refused", duration: 3)
        guard case .deadLettered(let id) = try await store.failed(consumer: "hook", sequence: sequence, attempt: last, retryAt: nil) else {
            Issue.record("not dead-lettered")
            return
        }
        #expect(try await store.pending(consumer: "hook", partitions: nil, dueBy: nil, limit: 10).isEmpty)
        #expect(try await store.failed(consumer: "hook", sequence: sequence, attempt: last, retryAt: nil) == .notPending)
        let letters = try await store.deadLetters(consumer: "hook", afterID: nil, limit: 10)
        #expect(letters.count == 1)
        #expect(letters.first?.id == id && letters.first?.failedAt == 1_100 && letters.first?.partition == 3)
        #expect(letters.first?.event.event.eventID == "x" && letters.first?.event.event.partitionKey == "order-1")
        #expect(letters.first?.attempts == [
            DeliveryAttempt(number: 1, at: 100, statusCode: 503, error: "HTTP 503", duration: 12),
            DeliveryAttempt(number: 2, at: 1_100, statusCode: nil, error: "connection refused", duration: 3),
        ])
        #expect(try await store.deadLetters(consumer: "other", afterID: nil, limit: 10).isEmpty)
        #expect(try await store.deadLetters(consumer: nil, afterID: id, limit: 10).isEmpty)
        #expect(try await store.consumerStates().first?.deadLettered == 1)
    }

    /// `record` of mixed outcomes in one call answers and leaves exactly what `delivered` and
    /// `failed` one at a time do: consumer "single" gets the calls, "batch" the one record.
    static func recordInABatch(_ store: any EventStore, _: any EventStore) async throws {
        let receipts = try await Self.append(store, (1...5).map { Self.event("r\($0)", key: "k\($0 % 2)") })
        let sequences = receipts.map(\.sequence)
        let boom = DeliveryAttempt(at: 10, statusCode: 500, error: "boom", duration: 4)
        for consumer in ["single", "batch"] {
            _ = try await store.enqueue(
                consumer: consumer, deliveries: receipts.map { NewDelivery(sequence: $0.sequence, partitionKey: nil, partition: Int($0.sequence % 4)) }, now: 0)
            // Earlier attempts: r1's go with its success, r3's with it to the dead-letter queue.
            for sequence in [sequences[0], sequences[2]] {
                _ = try await store.failed(consumer: consumer, sequence: sequence, attempt: boom, retryAt: 500)
            }
        }
        let records: [DeliveryRecord] = [
            .delivered(sequence: sequences[0]),
            .failed(sequence: sequences[1], attempt: DeliveryAttempt(at: 600, statusCode: 503, error: "busy", duration: 7), retryAt: 2_000),
            .failed(sequence: sequences[2], attempt: DeliveryAttempt(at: 610, error: "refused", duration: 1), retryAt: nil),
            // Later records see earlier ones of the batch.
            .failed(sequence: sequences[3], attempt: DeliveryAttempt(at: 620, error: "once", duration: 2), retryAt: 3_000),
            .delivered(sequence: sequences[3]),
            .failed(sequence: sequences[0], attempt: DeliveryAttempt(at: 630, error: "late", duration: 1), retryAt: 4_000),
            .delivered(sequence: 999_999),
        ]
        var single: [RecordedOutcome] = []
        for record in records {
            switch record {
            case .delivered(let sequence):
                single.append(.delivered(removed: try await store.delivered(consumer: "single", sequence: sequence)))
            case .failed(let sequence, let attempt, let retryAt):
                single.append(.failed(try await store.failed(consumer: "single", sequence: sequence, attempt: attempt, retryAt: retryAt)))
            }
        }
        let batch = try await store.record(consumer: "batch", records)
        #expect(try await store.record(consumer: "batch", []).isEmpty)

        let letters = try await store.deadLetters(consumer: nil, afterID: nil, limit: 10)
        #expect(letters.map(\.consumer) == ["single", "batch"])
        let expected: [RecordedOutcome] = [
            .delivered(removed: true), .failed(.rescheduled(attempts: 1)), .failed(.deadLettered(id: 0)), .failed(.rescheduled(attempts: 1)),
            .delivered(removed: true), .failed(.notPending), .delivered(removed: false),
        ]
        // Dead-letter ids differ by consumer: each is its own letter's.
        func withoutIDs(_ outcomes: [RecordedOutcome]) -> [RecordedOutcome] {
            outcomes.map { if case .failed(.deadLettered) = $0 { .failed(.deadLettered(id: 0)) } else { $0 } }
        }
        #expect(withoutIDs(single) == expected)
        #expect(withoutIDs(batch) == expected)
        #expect(single[2] == .failed(.deadLettered(id: letters[0].id)))
        #expect(batch[2] == .failed(.deadLettered(id: letters[1].id)))

        // What is left is the same: pending rows, dead letters with every attempt.
        let pending = try await store.pending(consumer: "single", partitions: nil, dueBy: nil, limit: 10)
        #expect(pending.map(\.event.sequence) == [sequences[1], sequences[4]])
        #expect(pending.first?.attempts == 1 && pending.first?.nextAttemptAt == 2_000 && pending.first?.lastError == "busy")
        let batchPending = try await store.pending(consumer: "batch", partitions: nil, dueBy: nil, limit: 10)
        #expect(batchPending.map { PendingDelivery(consumer: "single", event: $0.event, partition: $0.partition, attempts: $0.attempts, nextAttemptAt: $0.nextAttemptAt, lastError: $0.lastError) } == pending)
        #expect(letters[0].attempts.map(\.error) == ["boom", "refused"] && letters[0].attempts.map(\.number) == [1, 2])
        #expect(letters[1].attempts == letters[0].attempts)
        #expect(letters[1].event == letters[0].event && letters[1].failedAt == 610 && letters[1].partition == letters[0].partition)
        // The successes took their attempts with them: a new failure starts a fresh history.
        for consumer in ["single", "batch"] {
            for sequence in [sequences[0], sequences[3]] {
                _ = try await store.enqueue(consumer: consumer, deliveries: [NewDelivery(sequence: sequence, partitionKey: nil, partition: 0)], now: 700)
                _ = try await store.failed(consumer: consumer, sequence: sequence, attempt: DeliveryAttempt(at: 710, error: "fresh", duration: 1), retryAt: nil)
            }
            let fresh = try await store.deadLetters(consumer: consumer, afterID: nil, limit: 10).filter { $0.event.sequence != sequences[2] }
            #expect(fresh.map(\.attempts) == [[DeliveryAttempt(number: 1, at: 710, error: "fresh", duration: 1)], [DeliveryAttempt(number: 1, at: 710, error: "fresh", duration: 1)]])
        }
    }

    static func deadLetterRetryAndClear(_ store: any EventStore, _: any EventStore) async throws {
        let receipts = try await Self.append(store, (1...4).map { Self.event("d\($0)") })
        // a: events 1–3 dead-lettered, b: event 4.
        for (consumer, sequences) in [("a", receipts[0...2].map(\.sequence)), ("b", [receipts[3].sequence])] {
            _ = try await store.enqueue(consumer: consumer, deliveries: sequences.map { NewDelivery(sequence: $0, partitionKey: nil, partition: 0) }, now: 0)
            for sequence in sequences {
                _ = try await store.failed(consumer: consumer, sequence: sequence, attempt: DeliveryAttempt(at: 5, error: "boom", duration: 1), retryAt: nil)
            }
        }
        let letters = try await store.deadLetters(consumer: nil, afterID: nil, limit: 10)
        #expect(letters.map(\.consumer) == ["a", "a", "a", "b"])
        // Pages by id.
        #expect(try await store.deadLetters(consumer: "a", afterID: letters[0].id, limit: 1).map(\.id) == [letters[1].id])

        // Retry one: pending again, attempts from 0, history kept and continued.
        #expect(try await store.retryDeadLetters(.ids([letters[0].id]), now: 50) == 1)
        let retried = try await store.pending(consumer: "a", partitions: nil, dueBy: 50, limit: 10)
        #expect(retried.map(\.event.sequence) == [receipts[0].sequence] && retried[0].attempts == 0)
        _ = try await store.failed(consumer: "a", sequence: receipts[0].sequence, attempt: DeliveryAttempt(at: 60, error: "again", duration: 1), retryAt: nil)
        let history = try await store.deadLetters(consumer: "a", afterID: nil, limit: 10).first { $0.event.sequence == receipts[0].sequence }
        #expect(history?.attempts.map(\.error) == ["boom", "again"])
        #expect(history?.attempts.map(\.number) == [1, 1])

        // Clear one consumer, retry the rest, clear everything.
        #expect(try await store.clearDeadLetters(.consumer("b")) == 1)
        #expect(try await store.retryDeadLetters(.consumer("b"), now: 70) == 0)
        #expect(try await store.retryDeadLetters(.all, now: 70) == 3)
        #expect(try await store.pending(consumer: "a", partitions: nil, dueBy: nil, limit: 10).count == 3)
        #expect(try await store.deadLetters(consumer: nil, afterID: nil, limit: 10).isEmpty)
        for sequence in receipts[0...2].map(\.sequence) {
            _ = try await store.failed(consumer: "a", sequence: sequence, attempt: DeliveryAttempt(at: 80, error: "x", duration: 1), retryAt: nil)
        }
        #expect(try await store.clearDeadLetters(.all) == 3)
        #expect(try await store.deadLetters(consumer: nil, afterID: nil, limit: 10).isEmpty)
        // The history went with them: a new failure starts a fresh one.
        _ = try await store.enqueue(consumer: "a", deliveries: [NewDelivery(sequence: receipts[0].sequence, partitionKey: nil, partition: 0)], now: 90)
        _ = try await store.failed(consumer: "a", sequence: receipts[0].sequence, attempt: DeliveryAttempt(at: 95, error: "fresh", duration: 1), retryAt: nil)
        #expect(try await store.deadLetters(consumer: "a", afterID: nil, limit: 10).first?.attempts.map(\.error) == ["fresh"])
    }

    static func replay(_ store: any EventStore, _: any EventStore) async throws {
        let receipts = try await Self.append(
            store, [100, 200, 300, 400, 500].enumerated().map { Self.event("r\($0.offset)", type: $0.offset == 2 ? "other" : "order.created", at: $0.element) })
        // Fanned out through the fourth event; all delivered.
        #expect(try await store.fanOut(consumer: "c", through: receipts[3].sequence, deliveries: [], now: 0) == receipts[3].sequence)
        let range = EventQuery(since: 200, until: 600, limit: 0)
        // The fifth is past the cursor: fan-out delivers it, replay does not.
        #expect(try await store.replay(consumer: "c", range: range, partitionCount: 2, now: 1_000, pageSize: 1) == 3)
        #expect(try await store.pending(consumer: "c", partitions: nil, dueBy: nil, limit: 10).map(\.event.sequence) == receipts[1...3].map(\.sequence))
        #expect(try await store.replay(consumer: "c", range: range, partitionCount: 2, now: 1_000) == 0)
        var typed = range
        typed.types = ["order.created"]
        #expect(try await store.replay(consumer: "d", range: typed, partitionCount: 2, now: 1_000) == 0)
        _ = try await store.fanOut(consumer: "d", through: receipts[4].sequence, deliveries: [], now: 0)
        #expect(try await store.replay(consumer: "d", range: typed, partitionCount: 2, now: 1_000) == 3)
        #expect(try await store.pending(consumer: "d", partitions: nil, dueBy: nil, limit: 10).map(\.event.sequence) == [receipts[1], receipts[3], receipts[4]].map(\.sequence))
        #expect(
            try await store.replay(consumer: "e", range: range, partitionCount: 2, now: 1_000, matching: { $0.event.eventID == "r1" }) == 0)
    }

    static func retention(_ store: any EventStore, _: any EventStore) async throws {
        let receipts = try await Self.append(store, (1...6).map { Self.event("t\($0)", at: Int64($0) * 100, data: #"{"pad":"0123456789"}"#) })
        let size = try await Self.everything(store)[0].event.storedSize
        // A pending delivery and a dead letter keep their events.
        _ = try await store.enqueue(consumer: "slow", deliveries: [NewDelivery(sequence: receipts[0].sequence, partitionKey: nil, partition: 0)], now: 0)
        _ = try await store.enqueue(consumer: "dead", deliveries: [NewDelivery(sequence: receipts[1].sequence, partitionKey: nil, partition: 0)], now: 0)
        _ = try await store.failed(consumer: "dead", sequence: receipts[1].sequence, attempt: DeliveryAttempt(at: 0, error: "e", duration: 0), retryAt: nil)

        #expect(try await store.trim(EventRetention(), now: 10_000) == 0)
        #expect(try await store.trim(EventRetention(maxAge: 9_650), now: 10_000) == 1)  // t3 (ts 300 < 350)
        #expect(try await Self.everything(store).map(\.event.eventID) == ["t1", "t2", "t4", "t5", "t6"])
        // Kept events count towards the limits: five events, at most four, but the oldest is kept.
        #expect(try await store.trim(EventRetention(maxEvents: 4), now: 10_000) == 0)
        #expect(try await store.trim(EventRetention(maxEvents: 2), now: 10_000) == 1)  // t4; t1, t2 stay
        #expect(try await store.trim(EventRetention(maxBytes: 3 * size), now: 10_000) == 0)
        #expect(try await store.trim(EventRetention(maxBytes: size), now: 10_000) == 1)  // t5
        #expect(try await Self.everything(store).map(\.event.eventID) == ["t1", "t2", "t6"])
        _ = try await store.delivered(consumer: "slow", sequence: receipts[0].sequence)
        #expect(try await store.trim(EventRetention(maxEvents: 1), now: 10_000) == 1)
        #expect(try await Self.everything(store).map(\.event.eventID) == ["t2", "t6"])
        let stats = try await store.stats()
        #expect(stats.count == 2 && stats.oldestSequence == receipts[1].sequence && stats.lastSequence == receipts[5].sequence)
        // An emptied log keeps its last sequence: the next append continues after it.
        _ = try await store.clearDeadLetters(.all)
        #expect(try await store.trim(EventRetention(maxEvents: 0), now: 10_000) == 2)
        #expect(try await store.stats().lastSequence == receipts[5].sequence)
        #expect(try await store.lastSequence() == receipts[5].sequence)
        #expect(try await Self.append(store, [Self.event("t7")], now: 1_000 + Self.hour)[0].sequence > receipts[5].sequence)
    }

    // MARK: - Leases

    static func leases(_ store: any EventStore, _ other: any EventStore) async throws {
        #expect(try await store.acquireLeases(consumer: "c", partitionCount: 4, node: "A", max: 4, ttl: 1_000, now: 0) == [0, 1, 2, 3])
        #expect(try await other.acquireLeases(consumer: "c", partitionCount: 4, node: "B", max: 2, ttl: 1_000, now: 10) == [])
        // B joined: A keeps its share, renewed, and lets the rest go.
        #expect(try await store.acquireLeases(consumer: "c", partitionCount: 4, node: "A", max: 2, ttl: 1_000, now: 500) == [0, 1])
        #expect(try await other.acquireLeases(consumer: "c", partitionCount: 4, node: "B", max: 2, ttl: 1_000, now: 600) == [2, 3])
        // Another consumer's partitions are separate.
        #expect(try await other.acquireLeases(consumer: "d", partitionCount: 2, node: "B", max: 2, ttl: 1_000, now: 600) == [0, 1])
        // A dies: its leases expire at 1500, and B takes them then, not before.
        #expect(try await other.acquireLeases(consumer: "c", partitionCount: 4, node: "B", max: 4, ttl: 1_000, now: 1_499) == [2, 3])
        #expect(try await other.acquireLeases(consumer: "c", partitionCount: 4, node: "B", max: 4, ttl: 1_000, now: 1_500) == [0, 1, 2, 3])
        #expect(try await store.acquireLeases(consumer: "c", partitionCount: 4, node: "A", max: 2, ttl: 1_000, now: 1_600) == [])
        // B shuts down: released at once.
        #expect(try await other.releaseLeases(node: "B", consumer: "c") == 4)
        #expect(try await store.acquireLeases(consumer: "c", partitionCount: 4, node: "A", max: 2, ttl: 1_000, now: 1_700) == [0, 1])
        #expect(try await other.releaseLeases(node: "B", consumer: nil) == 2)
        #expect(try await store.acquireLeases(consumer: "d", partitionCount: 2, node: "A", max: 2, ttl: 1_000, now: 1_700) == [0, 1])
    }

    /// Three nodes acquiring at once, round after round: never one partition held twice.
    static func concurrentLeases(_ store: any EventStore, _ other: any EventStore) async throws {
        let nodes: [(String, any EventStore)] = [("A", store), ("B", other), ("C", store)]
        for round in 0..<15 {
            let now = Int64(round) * 400
            let held = try await withThrowingTaskGroup(of: (String, [Int]).self) { group in
                for (name, node) in nodes {
                    group.addTask {
                        (name, try await node.acquireLeases(consumer: "c", partitionCount: 8, node: name, max: 4, ttl: 1_000, now: now))
                    }
                }
                return try await group.reduce(into: [String: [Int]]()) { $0[$1.0] = $1.1 }
            }
            let all = held.values.flatMap { $0 }
            #expect(all.count == Set(all).count, "round \(round): \(held)")
            #expect(held.values.allSatisfy { $0.count <= 4 })
        }
    }

    // MARK: - Definitions

    static func definitions(_ store: any EventStore, _: any EventStore) async throws {
        try await store.saveDefinition(.consumer, name: "hook", body: #"{"v":1}"#, now: 10)
        try await store.saveDefinition(.consumer, name: "bridge", body: #"{"b":1}"#, now: 20)
        try await store.saveDefinition(.schema, name: "order.created", body: #"{"type":"object"}"#, now: 30)
        try await store.saveDefinition(.consumer, name: "hook", body: #"{"v":2}"#, now: 40)
        #expect(try await store.definitions(.consumer) == [
            StoredDefinition(kind: .consumer, name: "bridge", body: #"{"b":1}"#, createdAt: 20, updatedAt: 20),
            StoredDefinition(kind: .consumer, name: "hook", body: #"{"v":2}"#, createdAt: 10, updatedAt: 40),
        ])
        #expect(try await store.definitions(.schema).map(\.name) == ["order.created"])
        #expect(try await store.removeDefinition(.consumer, name: "hook"))
        #expect(try await !store.removeDefinition(.consumer, name: "hook"))
        #expect(try await store.definitions(.consumer).map(\.name) == ["bridge"])
    }
}
