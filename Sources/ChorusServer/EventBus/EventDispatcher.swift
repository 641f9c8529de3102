import ChorusCore
import Logging
import Synchronization

/// Delivers one consumer's events, as one task of the bus service (docs/event-bus.md,
/// "Dispatcher"): holds leases on the consumer's partitions, fans new events out from the
/// cursor, loads the pending deliveries of the partitions it holds into a `DeliveryScheduler`,
/// starts what it says, and records attempts' outcomes durably with the retry policy's
/// decision: every outcome that came while it was busy in one store transaction. It wakes on a
/// local commit (``wake()``), on a completion, at the scheduler's next tick, at lease renewal,
/// and every poll interval (events appended by other nodes).
final class EventDispatcher: Sendable {
    /// Timing of the loop; tests shorten it.
    struct Timing: Sendable {
        /// How long a lease lasts; renewed at a third of it.
        var leaseTTL: Int64 = 6_000
        /// The longest sleep without a wake-up (events another node appended).
        var pollInterval: Int64 = 1_000
        /// After a store error, the wait before trying again.
        var errorBackoff: Int64 = 1_000
    }

    private enum Signal: Sendable {
        case wake
        /// Attempts finished: their results wait in `completions`.
        case finished
    }

    /// One attempt's result, waiting to be recorded.
    private struct Completion: Sendable {
        var delivery: PendingDelivery
        var attempt: Int
        var startedAt: Int64
        var result: EventDeliveryResult
        var duration: Int64
    }

    /// Results not recorded yet, in the order the attempts finished, and whether a `.finished`
    /// waits in `signals` for them (one does, however many came): the loop takes them all at
    /// once, so a burst of completions costs a few transactions, not one each.
    private struct Completions: Sendable {
        var waiting: [Completion] = []
        var signalled = false
    }

    let consumer: EventConsumer
    private let store: any EventStore
    private let target: any EventTarget
    private let node: String
    private let liveNodes: @Sendable () async -> Int
    private let clock: @Sendable () -> Int64
    private let timing: Timing
    private let metrics: EventBusMetrics
    /// Called once when an attempt says the target is gone (HTTP 410): the bus disables the consumer.
    private let onGone: @Sendable (String) async -> Void
    private let logger: Logger
    private let signals: AsyncStream<Signal>
    private let signal: AsyncStream<Signal>.Continuation
    /// Whether a `.wake` waits in `signals` not yet looked at: a burst of commits (one wake
    /// each) then costs one look, and completions are not queued behind thousands of wakes.
    private let wakePending = Atomic<Bool>(false)
    /// Attempts' results waiting for the loop to record them.
    private let completions = Mutex(Completions())
    /// Set by ``stop()``: the loop ends at its next signal, not after those still buffered.
    private let stopped = Atomic<Bool>(false)
    /// Set by a wake that may have made deliveries older than those the loop holds (a replay, a
    /// retried dead letter): the next look reads the pending deliveries even when it holds a
    /// full load of them.
    private let reloadRequested = Atomic<Bool>(false)

    init(
        consumer: EventConsumer, store: any EventStore, target: any EventTarget, node: String,
        liveNodes: @escaping @Sendable () async -> Int, clock: @escaping @Sendable () -> Int64, timing: Timing,
        metrics: EventBusMetrics, logger: Logger, onGone: @escaping @Sendable (String) async -> Void
    ) {
        self.consumer = consumer
        self.store = store
        self.target = target
        self.node = node
        self.liveNodes = liveNodes
        self.clock = clock
        self.timing = timing
        self.metrics = metrics
        self.logger = logger
        self.onGone = onGone
        (self.signals, self.signal) = AsyncStream.makeStream(of: Signal.self)
    }

    /// Something may be new (a local commit, a retried dead letter, a replay): look now.
    /// - Parameter reload: the new deliveries may come before those the loop holds (a replay, a
    ///   retried dead letter), so the look must read them whatever it holds.
    func wake(reload: Bool = false) {
        if reload { self.reloadRequested.store(true, ordering: .releasing) }
        guard !self.wakePending.exchange(true, ordering: .acquiringAndReleasing) else { return }
        self.signal.yield(.wake)
    }

    /// Runs until the task is cancelled; then releases its leases (another node takes them at once).
    func run() async {
        var loop = Loop(dispatcher: self)
        await withTaskGroup(of: Void.self) { group in
            self.wake()
            var timer: Task<Void, Never>?
            for await signal in self.signals {
                if Task.isCancelled || self.stopped.load(ordering: .acquiring) { break }
                switch signal {
                case .wake:
                    // Cleared first: a commit during the look wakes it again.
                    self.wakePending.store(false, ordering: .releasing)
                    await loop.look()
                case .finished:
                    // Cleared with the take: a completion during the record signals again.
                    let finished = self.completions.withLock { completions in
                        completions.signalled = false
                        defer { completions.waiting = [] }
                        return completions.waiting
                    }
                    let gone = await loop.record(finished)
                    if gone {
                        await self.onGone(self.consumer.name)
                        group.cancelAll()
                        timer?.cancel()
                        break
                    }
                }
                if loop.gone { break }
                for delivery in loop.toStart {
                    group.addTask { await self.attempt(delivery) }
                }
                loop.toStart = []
                timer?.cancel()
                let delay = max(0, loop.nextLook - self.clock())
                timer = Task { [weak self] in
                    guard (try? await Task.sleep(for: .milliseconds(delay))) != nil else { return }
                    self?.wake()
                }
            }
            timer?.cancel()
            group.cancelAll()
        }
        _ = try? await self.store.releaseLeases(node: self.node, consumer: self.consumer.name)
    }

    /// Stops ``run()``.
    func stop() {
        self.stopped.store(true, ordering: .releasing)
        self.signal.finish()
    }

    /// One attempt, bounded by the consumer's timeout; its result comes back as a signal.
    private func attempt(_ delivery: PendingDelivery) async {
        let attempt = delivery.attempts + 1
        let startedAt = self.clock()
        let started = ContinuousClock.now
        let target = self.target
        let consumer = self.consumer.name
        let timeout = self.consumer.timeout
        let result = await withTaskGroup(of: EventDeliveryResult?.self) { group in
            group.addTask { await target.deliver(delivery.event, consumer: consumer, attempt: attempt) }
            group.addTask {
                guard (try? await Task.sleep(for: timeout)) != nil else { return nil }
                return EventDeliveryResult(outcome: .failed(), error: "timed out after \(timeout)")
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? EventDeliveryResult(outcome: .failed(), error: "cancelled")
        }
        let elapsed = ContinuousClock.now - started
        let duration = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        let completion = Completion(delivery: delivery, attempt: attempt, startedAt: startedAt, result: result, duration: duration)
        let signal = self.completions.withLock { completions in
            completions.waiting.append(completion)
            defer { completions.signalled = true }
            return !completions.signalled
        }
        if signal { self.signal.yield(.finished) }
    }

    /// The loop's state: the scheduler, the deliveries it knows, the leases held.
    private struct Loop {
        let dispatcher: EventDispatcher
        var scheduler: DeliveryScheduler
        var known: [Int64: PendingDelivery] = [:]
        var held: [Int] = []
        /// Whether the held partitions changed since the pending deliveries were last read.
        var heldChanged = true
        var renewLeasesAt: Int64 = 0
        var schedulerWakeUp: Int64?
        var nextLook: Int64 = 0
        var toStart: [PendingDelivery] = []
        /// Sequences being attempted now.
        var inFlight: Set<Int64> = []
        /// When the lag gauge may be read from the store again (its queries scan the log).
        var lagDueAt: Int64 = 0
        var gone = false
        var generator = SystemRandomNumberGenerator()

        init(dispatcher: EventDispatcher) {
            self.dispatcher = dispatcher
            self.scheduler = DeliveryScheduler(ordering: dispatcher.consumer.ordering, concurrency: dispatcher.consumer.concurrency)
        }

        private var consumer: EventConsumer { self.dispatcher.consumer }
        private var store: any EventStore { self.dispatcher.store }

        /// Renews leases when due, fans out, loads pending deliveries, starts what is due.
        mutating func look() async {
            let now = self.dispatcher.clock()
            do {
                if now >= self.renewLeasesAt {
                    let nodes = max(1, await self.dispatcher.liveNodes())
                    let share = (self.consumer.partitions + nodes - 1) / nodes
                    let held = try await self.store.acquireLeases(
                        consumer: self.consumer.name, partitionCount: self.consumer.partitions, node: self.dispatcher.node,
                        max: share, ttl: self.dispatcher.timing.leaseTTL, now: now)
                    self.forget(partitionsNotIn: Set(held), now: now)
                    if held != self.held { self.heldChanged = true }
                    self.held = held
                    self.renewLeasesAt = now + self.dispatcher.timing.leaseTTL / 3
                }
                try await self.fanOut(now: now)
                try await self.loadPending(now: now)
                self.apply(self.scheduler.tick(now: self.dispatcher.clock()))
                self.schedule(now: now, delay: self.dispatcher.timing.pollInterval)
            } catch {
                self.dispatcher.logger.warning("event consumer '\(self.consumer.name)': \(error)")
                self.schedule(now: now, delay: self.dispatcher.timing.errorBackoff)
            }
        }

        /// Drops the waiting deliveries of partitions another node holds now (it delivers them);
        /// those in flight finish and are recorded (at worst delivered twice: at-least-once).
        private mutating func forget(partitionsNotIn held: Set<Int>, now: Int64) {
            for (sequence, delivery) in self.known where !held.contains(delivery.partition) && !self.inFlight.contains(sequence) {
                self.known[sequence] = nil
                // Only the local scheduler forgets it (its way to drop a waiting delivery); the store's row stays pending.
                self.apply(self.scheduler.deadLettered(sequence: sequence, now: now))
            }
        }

        /// Creates the deliveries of the events after the cursor that the consumer takes.
        private mutating func fanOut(now: Int64) async throws {
            var cursor = try await self.store.cursor(of: self.consumer.name)
            while true {
                let page = try await self.store.events(EventQuery(afterSequence: cursor, order: .oldestFirst, limit: 500))
                guard let last = page.last else { break }
                let deliveries = page.filter { self.consumer.matches($0.event) }.map { NewDelivery($0, partitionCount: self.consumer.partitions) }
                cursor = try await self.store.fanOut(consumer: self.consumer.name, through: last.sequence, deliveries: deliveries, now: now)
                guard page.count == 500 else { break }
            }
        }

        /// The most pending deliveries one read loads.
        static let pendingPage = 1_000

        /// Hands the scheduler the pending deliveries of the held partitions it does not know yet.
        ///
        /// Pending deliveries are read oldest first, and the loop forgets one only once it is done,
        /// so what it knows is the oldest of them: while it holds more than half a page, reading
        /// again would mostly find what it knows (a thousand rows read, decoded and dropped at
        /// every look while the consumer is behind: the dispatcher's largest cost then). It reads
        /// when it holds half a page or less, when its partitions changed, or when a local wake
        /// says older deliveries may have come (another node's replay waits for the half page).
        private mutating func loadPending(now: Int64) async throws {
            guard !self.held.isEmpty else { return }
            let requested = self.dispatcher.reloadRequested.exchange(false, ordering: .acquiringAndReleasing)
            if self.known.count <= Self.pendingPage / 2 || self.heldChanged || requested {
                self.heldChanged = false
                let pending = try await self.store.pending(consumer: self.consumer.name, partitions: self.held, dueBy: nil, limit: Self.pendingPage)
                var added: [DeliveryScheduler.Delivery] = []
                for delivery in pending where self.known[delivery.event.sequence] == nil {
                    self.known[delivery.event.sequence] = delivery
                    added.append(.init(sequence: delivery.event.sequence, partitionKey: delivery.event.event.partitionKey, attempts: delivery.attempts, notBefore: delivery.nextAttemptAt))
                }
                self.apply(self.scheduler.enqueue(contentsOf: added, now: now))
            }
            // At most once per poll interval: both queries scan tables that grow with the log.
            guard now >= self.lagDueAt else { return }
            self.lagDueAt = now + self.dispatcher.timing.pollInterval
            if let state = try await self.store.consumerStates().first(where: { $0.consumer == self.consumer.name }) {
                let last = try await self.store.lastSequence()
                self.dispatcher.metrics.lag(Int(max(0, last - state.cursor)) + state.pending, deadLetters: state.deadLettered, consumer: self.consumer.name)
            }
        }

        /// Records attempts' outcomes durably, in one transaction, then tells the scheduler of each
        /// in the order they came; true when the target is gone (outcomes after that one are not
        /// recorded: they stay pending, as the consumer stops there).
        mutating func record(_ completions: [Completion]) async -> Bool {
            guard !completions.isEmpty else { return false }
            let now = self.dispatcher.clock()
            let metrics = self.dispatcher.metrics
            let name = self.consumer.name
            var decisions: [RetryDecision] = []
            var records: [DeliveryRecord] = []
            for completion in completions {
                self.inFlight.remove(completion.delivery.event.sequence)
            }
            for completion in completions {
                let sequence = completion.delivery.event.sequence
                let decision = self.consumer.retry.next(afterAttempt: completion.attempt, outcome: completion.result.outcome, now: now, using: &self.generator)
                let attempt = DeliveryAttempt(
                    at: completion.startedAt, statusCode: completion.result.statusCode, error: completion.result.error ?? "failed", duration: completion.duration)
                decisions.append(decision)
                switch decision {
                case .delivered: records.append(.delivered(sequence: sequence))
                case .retry(let at): records.append(.failed(sequence: sequence, attempt: attempt, retryAt: at))
                case .deadLetter: records.append(.failed(sequence: sequence, attempt: attempt, retryAt: nil))
                // The attempt is kept, and the delivery stays pending for when the consumer is enabled again.
                case .disable: records.append(.failed(sequence: sequence, attempt: attempt, retryAt: now))
                }
                if case .disable = decision { break }
            }
            do {
                _ = try await self.store.record(consumer: name, records)
            } catch {
                // Not recorded: the rows stay pending as they were, so the events are delivered again (at-least-once).
                self.dispatcher.logger.warning("event consumer '\(name)': recording \(records.count) deliveries: \(error)")
                let retryAt = now + self.dispatcher.timing.errorBackoff
                for completion in completions {
                    self.apply(self.scheduler.failed(sequence: completion.delivery.event.sequence, retryAt: retryAt, now: now))
                }
                self.schedule(now: now, delay: self.dispatcher.timing.pollInterval)
                return false
            }
            for (completion, decision) in zip(completions, decisions) {
                let sequence = completion.delivery.event.sequence
                switch decision {
                case .delivered:
                    if completion.result.filtered {
                        metrics.delivery(.filtered, consumer: name)
                    } else {
                        metrics.delivery(.delivered, consumer: name, duration: completion.duration)
                    }
                    self.known[sequence] = nil
                    self.apply(self.scheduler.succeeded(sequence: sequence, now: now))
                case .retry(let at):
                    metrics.delivery(.failed, consumer: name)
                    metrics.delivery(.retried, consumer: name)
                    self.known[sequence]?.attempts = completion.attempt
                    self.apply(self.scheduler.failed(sequence: sequence, retryAt: at, now: now))
                case .deadLetter:
                    metrics.delivery(.failed, consumer: name)
                    metrics.delivery(.deadLettered, consumer: name)
                    self.known[sequence] = nil
                    self.apply(self.scheduler.deadLettered(sequence: sequence, now: now))
                case .disable:
                    metrics.delivery(.failed, consumer: name)
                    self.dispatcher.logger.warning("event consumer '\(name)' disabled: its target answered 410 Gone")
                    self.gone = true
                    return true
                }
            }
            self.schedule(now: now, delay: self.dispatcher.timing.pollInterval)
            return false
        }

        private mutating func apply(_ actions: DeliveryScheduler.Actions) {
            let started = actions.start.compactMap { self.known[$0.sequence] }
            self.inFlight.formUnion(started.map(\.event.sequence))
            self.toStart += started
            self.schedulerWakeUp = actions.wakeUp
        }

        /// The next look: the scheduler's wake-up, lease renewal or the poll interval, whichever comes first.
        private mutating func schedule(now: Int64, delay: Int64) {
            self.nextLook = min(now + delay, self.renewLeasesAt, self.schedulerWakeUp ?? .max)
        }
    }
}
