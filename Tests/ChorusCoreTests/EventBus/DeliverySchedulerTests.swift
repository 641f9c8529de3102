import Testing

@testable import ChorusCore

@Suite struct DeliverySchedulerTests {
    typealias Delivery = DeliveryScheduler.Delivery

    func sequences(_ actions: DeliveryScheduler.Actions) -> [Int64] {
        actions.start.map(\.sequence)
    }

    @Test func unorderedRespectsConcurrencyLowestSequenceFirst() {
        var scheduler = DeliveryScheduler(ordering: .unordered, concurrency: 2)
        let actions = scheduler.enqueue(contentsOf: [5, 3, 4, 1, 2].map { Delivery(sequence: $0, partitionKey: "same") }, now: 0)
        #expect(self.sequences(actions) == [1, 2])
        #expect(actions.wakeUp == nil)
        #expect(self.sequences(scheduler.succeeded(sequence: 2, now: 1)) == [3])
        #expect(self.sequences(scheduler.succeeded(sequence: 1, now: 1)) == [4])
        #expect(scheduler.inFlightCount == 2)
        #expect(scheduler.pendingCount == 3)
        #expect(scheduler.lowestPendingSequence == 3)
    }

    @Test func orderedDeliversOneAtATimePerKey() {
        var scheduler = DeliveryScheduler(ordering: .ordered, concurrency: 10)
        let deliveries = [Delivery(sequence: 1, partitionKey: "a"), Delivery(sequence: 2, partitionKey: "a"), Delivery(sequence: 3, partitionKey: "a"), Delivery(sequence: 4, partitionKey: "b")]
        #expect(self.sequences(scheduler.enqueue(contentsOf: deliveries, now: 0)) == [1, 4])
        #expect(self.sequences(scheduler.succeeded(sequence: 4, now: 0)) == [])
        #expect(self.sequences(scheduler.succeeded(sequence: 1, now: 0)) == [2])
        #expect(self.sequences(scheduler.succeeded(sequence: 2, now: 0)) == [3])
    }

    @Test func eventsWithoutAKeyAreNotOrdered() {
        var scheduler = DeliveryScheduler(ordering: .ordered, concurrency: 10)
        let actions = scheduler.enqueue(contentsOf: [Delivery(sequence: 1), Delivery(sequence: 2), Delivery(sequence: 3, partitionKey: "k")], now: 0)
        #expect(self.sequences(actions) == [1, 2, 3])
    }

    @Test func aFailureHoldsItsKeyUntilItSucceeds() {
        var scheduler = DeliveryScheduler(ordering: .ordered, concurrency: 10)
        _ = scheduler.enqueue(contentsOf: [1, 2, 3].map { Delivery(sequence: $0, partitionKey: "a") } + [Delivery(sequence: 4, partitionKey: "b")], now: 0)
        _ = scheduler.succeeded(sequence: 1, now: 0)
        let failed = scheduler.failed(sequence: 2, retryAt: 1000, now: 10)
        #expect(failed.start.isEmpty)
        #expect(failed.wakeUp == 1000)
        // Key "b" is not held by "a"'s failure.
        #expect(self.sequences(scheduler.enqueue(Delivery(sequence: 5, partitionKey: "b"), now: 20)) == [])
        #expect(self.sequences(scheduler.succeeded(sequence: 4, now: 30)) == [5])
        #expect(scheduler.tick(now: 999) == DeliveryScheduler.Actions(start: [], wakeUp: 1000))
        let retried = scheduler.tick(now: 1000)
        #expect(retried.start == [Delivery(sequence: 2, partitionKey: "a", attempts: 1, notBefore: 1000)])
        #expect(retried.wakeUp == nil)
        #expect(self.sequences(scheduler.succeeded(sequence: 2, now: 1001)) == [3])
    }

    @Test func aDeadLetterReleasesItsKey() {
        var scheduler = DeliveryScheduler(ordering: .ordered, concurrency: 10)
        _ = scheduler.enqueue(contentsOf: [1, 2].map { Delivery(sequence: $0, partitionKey: "a") }, now: 0)
        _ = scheduler.failed(sequence: 1, retryAt: 500, now: 0)
        // Dead-lettered while waiting for its retry (an operator gave up on it).
        let actions = scheduler.deadLettered(sequence: 1, now: 100)
        #expect(self.sequences(actions) == [2])
        #expect(actions.wakeUp == nil)
        #expect(scheduler.tick(now: 600).start.isEmpty)
        #expect(self.sequences(scheduler.succeeded(sequence: 2, now: 600)) == [])
        #expect(scheduler.pendingCount == 0)
        #expect(scheduler.lowestPendingSequence == nil)
    }

    @Test func notBeforeIsRespectedAndAnnounced() {
        var scheduler = DeliveryScheduler(ordering: .unordered, concurrency: 4)
        let actions = scheduler.enqueue(contentsOf: [Delivery(sequence: 1, notBefore: 500), Delivery(sequence: 2, notBefore: 300)], now: 0)
        #expect(actions == DeliveryScheduler.Actions(start: [], wakeUp: 300))
        #expect(scheduler.tick(now: 300) == DeliveryScheduler.Actions(start: [Delivery(sequence: 2, notBefore: 300)], wakeUp: 500))
        #expect(self.sequences(scheduler.tick(now: 10_000)) == [1])
    }

    @Test func noWakeUpWhileEverySlotIsBusy() {
        var scheduler = DeliveryScheduler(ordering: .unordered, concurrency: 1)
        let actions = scheduler.enqueue(contentsOf: [Delivery(sequence: 1), Delivery(sequence: 2, notBefore: 50)], now: 0)
        #expect(actions == DeliveryScheduler.Actions(start: [Delivery(sequence: 1)], wakeUp: nil))
        #expect(scheduler.succeeded(sequence: 1, now: 10) == DeliveryScheduler.Actions(start: [], wakeUp: 50))
    }

    @Test func aRepeatedEnqueueIsIgnored() {
        var scheduler = DeliveryScheduler(ordering: .ordered, concurrency: 4)
        #expect(self.sequences(scheduler.enqueue(Delivery(sequence: 1, partitionKey: "a"), now: 0)) == [1])
        #expect(self.sequences(scheduler.enqueue(Delivery(sequence: 1, partitionKey: "a"), now: 0)) == [])
        #expect(scheduler.pendingCount == 1)
        #expect(scheduler.inFlightCount == 1)
    }

    @Test func inputsAboutUnknownOrWaitingDeliveriesAreIgnored() {
        var scheduler = DeliveryScheduler(ordering: .ordered, concurrency: 1)
        _ = scheduler.enqueue(contentsOf: [Delivery(sequence: 1), Delivery(sequence: 2)], now: 0)
        #expect(scheduler.failed(sequence: 2, retryAt: 100, now: 0).start.isEmpty)
        #expect(scheduler.succeeded(sequence: 99, now: 0).start.isEmpty)
        #expect(scheduler.deadLettered(sequence: 99, now: 0).start.isEmpty)
        #expect(scheduler.inFlightCount == 1)
        #expect(scheduler.pendingCount == 2)
        #expect(self.sequences(scheduler.succeeded(sequence: 1, now: 0)) == [2])
    }

    /// An earlier event of a key enqueued late goes before the key's waiting events, and waits
    /// for the one already in flight.
    @Test func aLateEarlierEventGoesNextForItsKey() {
        var scheduler = DeliveryScheduler(ordering: .ordered, concurrency: 4)
        #expect(self.sequences(scheduler.enqueue(Delivery(sequence: 5, partitionKey: "a"), now: 0)) == [5])
        #expect(self.sequences(scheduler.enqueue(contentsOf: [Delivery(sequence: 7, partitionKey: "a"), Delivery(sequence: 3, partitionKey: "a")], now: 0)) == [])
        #expect(self.sequences(scheduler.succeeded(sequence: 5, now: 0)) == [3])
        #expect(self.sequences(scheduler.succeeded(sequence: 3, now: 0)) == [7])

        // The key's scheduled retry steps back behind the earlier event, and its timer goes.
        var retrying = DeliveryScheduler(ordering: .ordered, concurrency: 4)
        _ = retrying.enqueue(Delivery(sequence: 5, partitionKey: "a"), now: 0)
        #expect(retrying.failed(sequence: 5, retryAt: 100, now: 0).wakeUp == 100)
        #expect(retrying.enqueue(Delivery(sequence: 3, partitionKey: "a"), now: 0) == DeliveryScheduler.Actions(start: [Delivery(sequence: 3, partitionKey: "a")], wakeUp: nil))
        #expect(retrying.tick(now: 200).start.isEmpty)
        #expect(retrying.succeeded(sequence: 3, now: 200).start == [Delivery(sequence: 5, partitionKey: "a", attempts: 1, notBefore: 100)])
    }

    @Test func unorderedIgnoresKeys() {
        var scheduler = DeliveryScheduler(ordering: .unordered, concurrency: 3)
        let actions = scheduler.enqueue(contentsOf: (1...3).map { Delivery(sequence: $0, partitionKey: "a") }, now: 0)
        #expect(self.sequences(actions) == [1, 2, 3])
        _ = scheduler.failed(sequence: 1, retryAt: 50, now: 0)
        #expect(self.sequences(scheduler.enqueue(Delivery(sequence: 4, partitionKey: "a"), now: 0)) == [4])
    }

    // MARK: Properties under random failures

    @Test(arguments: DeliveryScheduler.Ordering.allCases)
    func invariantsHoldUnderRandomFailures(ordering: DeliveryScheduler.Ordering) {
        for seed in UInt64(1)...100 {
            var simulation = Simulation(ordering: ordering, seed: seed)
            simulation.run()
            if simulation.failures.isEmpty == false {
                Issue.record("seed \(seed), \(ordering): \(simulation.failures.prefix(3).joined(separator: "; "))")
                return
            }
        }
    }
}

/// Drives a scheduler with random arrivals, successes, failures and dead letters, checking after
/// every input what must always hold, against a model of what is pending.
private struct Simulation {
    let ordering: DeliveryScheduler.Ordering
    var generator: SeededGenerator
    var scheduler: DeliveryScheduler
    let concurrency: Int
    var now: Int64 = 0
    var nextSequence: Int64 = 1
    let total: Int64
    /// sequence → (key, notBefore) of every pending delivery.
    var pending: [Int64: (key: String?, notBefore: Int64)] = [:]
    var inFlight: Set<Int64> = []
    /// Per partition key, the sequences done (succeeded or dead-lettered), in the order they were.
    var completed: [String: [Int64]] = [:]
    var completedCount = 0
    var wakeUp: Int64?
    var failures: [String] = []

    init(ordering: DeliveryScheduler.Ordering, seed: UInt64) {
        self.ordering = ordering
        self.generator = SeededGenerator(seed: seed)
        self.concurrency = Int.random(in: 1...6, using: &self.generator)
        self.scheduler = DeliveryScheduler(ordering: ordering, concurrency: self.concurrency)
        self.total = Int64.random(in: 20...150, using: &self.generator)
    }

    mutating func run() {
        var steps = 0
        while self.completedCount < self.total, self.failures.isEmpty {
            steps += 1
            guard steps < 100_000 else {
                self.failures.append("no progress: \(self.pending.count) pending, \(self.inFlight.count) in flight")
                return
            }
            let choice = Int.random(in: 0..<10, using: &self.generator)
            if choice < 3, self.nextSequence <= self.total {
                self.enqueueBatch()
            } else if !self.inFlight.isEmpty, choice < 9 {
                self.complete(self.inFlight.randomElement(using: &self.generator)!)
            } else if let wakeUp = self.wakeUp, self.inFlight.count < self.concurrency {
                self.now = max(self.now, wakeUp)
                self.apply(self.scheduler.tick(now: self.now))
            } else if self.nextSequence <= self.total {
                self.enqueueBatch()
            } else if self.inFlight.isEmpty {
                self.failures.append("stalled: \(self.pending.count) pending, nothing in flight and no wake-up")
            }
        }
        for (key, order) in self.completed where order != order.sorted() && self.ordering == .ordered {
            self.failures.append("key \(key) completed out of order: \(order)")
        }
    }

    mutating func enqueueBatch() {
        let keys: [String?] = ["a", "b", "c", nil]
        var batch: [DeliveryScheduler.Delivery] = []
        for _ in 0..<Int.random(in: 1...5, using: &self.generator) where self.nextSequence <= self.total {
            let key = keys.randomElement(using: &self.generator)!
            let notBefore = Bool.random(using: &self.generator) ? self.now : self.now + Int64.random(in: 1...30, using: &self.generator)
            batch.append(DeliveryScheduler.Delivery(sequence: self.nextSequence, partitionKey: key, notBefore: notBefore))
            self.pending[self.nextSequence] = (key, notBefore)
            self.nextSequence += 1
        }
        self.now += Int64.random(in: 0...3, using: &self.generator)
        self.apply(self.scheduler.enqueue(contentsOf: batch, now: self.now))
    }

    mutating func complete(_ sequence: Int64) {
        self.now += Int64.random(in: 0...5, using: &self.generator)
        self.inFlight.remove(sequence)
        let roll = Int.random(in: 0..<10, using: &self.generator)
        if roll < 3 {
            let retryAt = self.now + Int64.random(in: 0...40, using: &self.generator)
            self.pending[sequence]!.notBefore = retryAt
            self.apply(self.scheduler.failed(sequence: sequence, retryAt: retryAt, now: self.now))
            return
        }
        if let key = self.pending.removeValue(forKey: sequence)!.key {
            self.completed[key, default: []].append(sequence)
        }
        self.completedCount += 1
        self.apply(roll < 4 ? self.scheduler.deadLettered(sequence: sequence, now: self.now) : self.scheduler.succeeded(sequence: sequence, now: self.now))
    }

    /// Whether the model lets `sequence` start: in ordered mode a keyed delivery must be the
    /// lowest pending of its key, with nothing of its key in flight.
    func mayStart(_ sequence: Int64) -> Bool {
        guard self.ordering == .ordered, let key = self.pending[sequence]!.key else {
            return true
        }
        let sameKey = self.pending.filter { $0.value.key == key }.keys
        return sameKey.min() == sequence && !sameKey.contains { self.inFlight.contains($0) }
    }

    mutating func apply(_ actions: DeliveryScheduler.Actions) {
        for delivery in actions.start {
            guard let entry = self.pending[delivery.sequence], !self.inFlight.contains(delivery.sequence) else {
                self.failures.append("started \(delivery.sequence), which is not waiting")
                continue
            }
            if entry.notBefore > self.now {
                self.failures.append("started \(delivery.sequence) at \(self.now), before \(entry.notBefore)")
            }
            if !self.mayStart(delivery.sequence) {
                self.failures.append("started \(delivery.sequence) of key \(entry.key ?? "-") out of order")
            }
            self.inFlight.insert(delivery.sequence)
        }
        if self.inFlight.count > self.concurrency {
            self.failures.append("\(self.inFlight.count) in flight, over \(self.concurrency)")
        }
        if self.scheduler.inFlightCount != self.inFlight.count || self.scheduler.pendingCount != self.pending.count {
            self.failures.append("counts differ from the model")
        }
        if self.scheduler.lowestPendingSequence != self.pending.keys.min() {
            self.failures.append("lowest pending differs from the model")
        }
        // Work-conserving: with a slot free, nothing that may start and is due is left waiting,
        // and the wake-up is the earliest time something that may start comes due.
        let waiting = self.pending.filter { !self.inFlight.contains($0.key) && self.mayStart($0.key) }
        if self.inFlight.count < self.concurrency {
            if let idle = waiting.first(where: { $0.value.notBefore <= self.now }) {
                self.failures.append("\(idle.key) is due at \(self.now) and may start, but did not")
            }
            let expected = waiting.values.map(\.notBefore).min()
            if actions.wakeUp != expected {
                self.failures.append("wake-up \(String(describing: actions.wakeUp)), expected \(String(describing: expected))")
            }
        } else if actions.wakeUp != nil {
            self.failures.append("a wake-up while every slot is busy")
        }
        self.wakeUp = actions.wakeUp
    }
}
