/// Decides which of a consumer's pending deliveries start when (docs/event-bus.md, "Ordering"):
/// a pure state machine the dispatcher feeds with what happened and the time, and that answers
/// with the deliveries to start now and when to call it again.
///
/// At most `concurrency` deliveries are in flight. In `ordered` mode the deliveries of one
/// partition key go one at a time, lowest sequence first, and a failed one holds its key (later
/// events of that key wait) until it succeeds or is dead-lettered; deliveries without a key are
/// not ordered. In `unordered` mode keys are ignored. Among deliveries that may start, the lowest
/// sequence goes first. Every input costs O(log n) comparisons plus array moves.
public struct DeliveryScheduler: Sendable {
    /// Whether a partition key's deliveries go one at a time, in sequence order.
    public enum Ordering: String, Sendable, Hashable, CaseIterable {
        /// Per partition key, in sequence order, one at a time.
        case ordered
        /// Independently of one another, up to the concurrency limit.
        case unordered
    }

    /// A pending delivery of one event to this consumer.
    public struct Delivery: Sendable, Hashable {
        /// The event's position in the log.
        public var sequence: Int64
        /// The event's partition key; nil for events that need no order.
        public var partitionKey: String?
        /// Attempts already made (0 for a new delivery).
        public var attempts: Int
        /// The earliest time to start it, in milliseconds since the Unix epoch.
        public var notBefore: Int64

        /// A delivery of the event at `sequence`.
        public init(sequence: Int64, partitionKey: String? = nil, attempts: Int = 0, notBefore: Int64 = 0) {
            self.sequence = sequence
            self.partitionKey = partitionKey
            self.attempts = attempts
            self.notBefore = notBefore
        }
    }

    /// What the dispatcher does after an input.
    public struct Actions: Sendable, Hashable {
        /// Deliveries to start now, lowest sequence first; they count as in flight.
        public var start: [Delivery]
        /// When to call `tick(now:)` (milliseconds since the Unix epoch) if nothing else happens
        /// before; nil when only an input (a completion, a new delivery) can start anything.
        public var wakeUp: Int64?
    }

    private enum State: Sendable {
        /// Waits for an earlier delivery of its key.
        case blocked
        /// May start at `notBefore`, which was in the future when last looked at.
        case scheduled
        /// May start as soon as a slot is free.
        case due
        case inFlight
    }

    private struct Entry: Sendable {
        var delivery: Delivery
        var state: State
    }

    /// A scheduled delivery's place in time.
    private struct Timer: Comparable, Sendable {
        var notBefore: Int64
        var sequence: Int64

        static func < (left: Timer, right: Timer) -> Bool {
            (left.notBefore, left.sequence) < (right.notBefore, right.sequence)
        }
    }

    /// How keys order deliveries.
    public let ordering: Ordering
    /// The most deliveries in flight at once.
    public let concurrency: Int

    private var entries: [Int64: Entry] = [:]
    /// Ordered mode: each key's pending sequences, ascending.
    private var keyQueues: [String: [Int64]] = [:]
    /// Ordered mode: keys with a delivery in flight.
    private var busyKeys: Set<String> = []
    /// Due sequences, descending, so the lowest is `last`.
    private var due: [Int64] = []
    /// Scheduled deliveries, latest first, so the next to come due is `last`.
    private var timers: [Timer] = []
    private var inFlight = 0

    /// An empty scheduler; `concurrency` must be at least 1.
    public init(ordering: Ordering, concurrency: Int) {
        precondition(concurrency >= 1, "a consumer needs a concurrency of at least 1")
        self.ordering = ordering
        self.concurrency = concurrency
    }

    /// Deliveries pending, in flight included.
    public var pendingCount: Int {
        self.entries.count
    }

    /// Deliveries in flight.
    public var inFlightCount: Int {
        self.inFlight
    }

    /// The lowest sequence still pending (in flight included): every event before it is done,
    /// so a consumer's durable position may advance to just below it. O(n).
    public var lowestPendingSequence: Int64? {
        self.entries.keys.min()
    }

    // MARK: Inputs

    /// Adds a delivery; one whose sequence is already pending is ignored. Enqueue a key's
    /// events in sequence order: an earlier one added later still goes before the key's waiting
    /// ones, but cannot overtake one already in flight.
    public mutating func enqueue(_ delivery: Delivery, now: Int64) -> Actions {
        self.add(delivery, now: now)
        return self.startDue(now: now)
    }

    /// Adds several deliveries (see `enqueue(_:now:)`).
    public mutating func enqueue(contentsOf deliveries: some Sequence<Delivery>, now: Int64) -> Actions {
        for delivery in deliveries {
            self.add(delivery, now: now)
        }
        return self.startDue(now: now)
    }

    /// Starts what has come due by `now`.
    public mutating func tick(now: Int64) -> Actions {
        self.startDue(now: now)
    }

    /// The delivery at `sequence` succeeded: it is done and releases its key.
    public mutating func succeeded(sequence: Int64, now: Int64) -> Actions {
        self.remove(sequence, now: now)
        return self.startDue(now: now)
    }

    /// The delivery at `sequence` was dead-lettered: it is done and releases its key. A waiting
    /// delivery can be dead-lettered too (an operator gave up on it).
    public mutating func deadLettered(sequence: Int64, now: Int64) -> Actions {
        self.remove(sequence, now: now)
        return self.startDue(now: now)
    }

    /// The delivery at `sequence` failed and is to be tried again at `retryAt`; in ordered mode
    /// it keeps its key until then. Ignored unless that delivery is in flight.
    public mutating func failed(sequence: Int64, retryAt: Int64, now: Int64) -> Actions {
        if var entry = self.entries[sequence], case .inFlight = entry.state {
            self.inFlight -= 1
            entry.delivery.attempts += 1
            entry.delivery.notBefore = retryAt
            entry.state = .blocked
            self.entries[sequence] = entry
            if let key = self.orderingKey(of: entry.delivery) {
                self.busyKeys.remove(key)
                self.releaseHead(of: key, now: now)
            } else {
                self.makeCandidate(sequence, now: now)
            }
        }
        return self.startDue(now: now)
    }

    // MARK: Transitions

    /// The key that orders `delivery`, if it is ordered at all.
    private func orderingKey(of delivery: Delivery) -> String? {
        self.ordering == .ordered ? delivery.partitionKey : nil
    }

    private mutating func add(_ delivery: Delivery, now: Int64) {
        guard self.entries[delivery.sequence] == nil else {
            return
        }
        self.entries[delivery.sequence] = Entry(delivery: delivery, state: .blocked)
        guard let key = self.orderingKey(of: delivery) else {
            self.makeCandidate(delivery.sequence, now: now)
            return
        }
        var queue = self.keyQueues[key, default: []]
        let previousHead = queue.first
        queue.insert(delivery.sequence, at: queue.firstIndex { $0 > delivery.sequence } ?? queue.endIndex)
        self.keyQueues[key] = queue
        if let previousHead, previousHead != queue.first, !self.busyKeys.contains(key) {
            // The new delivery comes first: the previous head waits behind it again.
            self.withdraw(previousHead)
        }
        self.releaseHead(of: key, now: now)
    }

    private mutating func remove(_ sequence: Int64, now: Int64) {
        guard let entry = self.entries.removeValue(forKey: sequence) else {
            return
        }
        switch entry.state {
        case .inFlight:
            self.inFlight -= 1
        case .due, .scheduled:
            self.withdraw(entry)
        case .blocked:
            break
        }
        guard let key = self.orderingKey(of: entry.delivery) else {
            return
        }
        self.keyQueues[key]?.removeAll { $0 == sequence }
        if self.keyQueues[key]?.isEmpty == true {
            self.keyQueues[key] = nil
        }
        if case .inFlight = entry.state {
            self.busyKeys.remove(key)
        }
        self.releaseHead(of: key, now: now)
    }

    /// Lets the lowest pending delivery of `key` start, unless the key is busy.
    private mutating func releaseHead(of key: String, now: Int64) {
        guard !self.busyKeys.contains(key), let head = self.keyQueues[key]?.first, case .blocked = self.entries[head]!.state else {
            return
        }
        self.makeCandidate(head, now: now)
    }

    /// A blocked delivery may start once due.
    private mutating func makeCandidate(_ sequence: Int64, now: Int64) {
        let notBefore = self.entries[sequence]!.delivery.notBefore
        if notBefore <= now {
            self.entries[sequence]!.state = .due
            self.due.insertKeepingDescending(sequence)
        } else {
            self.entries[sequence]!.state = .scheduled
            self.timers.insertKeepingDescending(Timer(notBefore: notBefore, sequence: sequence))
        }
    }

    /// A candidate goes back to waiting behind its key.
    private mutating func withdraw(_ sequence: Int64) {
        guard let entry = self.entries[sequence] else {
            return
        }
        self.withdraw(entry)
        self.entries[sequence]!.state = .blocked
    }

    private mutating func withdraw(_ entry: Entry) {
        switch entry.state {
        case .due:
            self.due.removeKeepingDescending(entry.delivery.sequence)
        case .scheduled:
            self.timers.removeKeepingDescending(Timer(notBefore: entry.delivery.notBefore, sequence: entry.delivery.sequence))
        case .blocked, .inFlight:
            break
        }
    }

    private mutating func startDue(now: Int64) -> Actions {
        while let timer = self.timers.last, timer.notBefore <= now {
            self.timers.removeLast()
            self.entries[timer.sequence]!.state = .due
            self.due.insertKeepingDescending(timer.sequence)
        }
        var start: [Delivery] = []
        while self.inFlight < self.concurrency, let sequence = self.due.popLast() {
            self.entries[sequence]!.state = .inFlight
            self.inFlight += 1
            let delivery = self.entries[sequence]!.delivery
            if let key = self.orderingKey(of: delivery) {
                self.busyKeys.insert(key)
            }
            start.append(delivery)
        }
        let wakeUp = self.inFlight < self.concurrency ? self.timers.last?.notBefore : nil
        return Actions(start: start, wakeUp: wakeUp)
    }
}

extension Array where Element: Comparable {
    /// Inserts into an array sorted in descending order, keeping it so.
    fileprivate mutating func insertKeepingDescending(_ element: Element) {
        self.insert(element, at: self.firstIndexNotAbove(element))
    }

    /// Removes `element` from an array sorted in descending order, if it is there.
    fileprivate mutating func removeKeepingDescending(_ element: Element) {
        let index = self.firstIndexNotAbove(element)
        if index < self.endIndex, self[index] == element {
            self.remove(at: index)
        }
    }

    /// Binary search: the first index whose element is not greater than `element`.
    private func firstIndexNotAbove(_ element: Element) -> Int {
        var low = 0
        var high = self.count
        while low < high {
            let middle = (low + high) / 2
            if self[middle] > element {
                low = middle + 1
            } else {
                high = middle
            }
        }
        return low
    }
}
