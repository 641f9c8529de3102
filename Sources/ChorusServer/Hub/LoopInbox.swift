import NIOConcurrencyHelpers

/// What other threads hand to one event loop: a locked list and whether a drain of it is
/// scheduled, so that a burst costs one hop to the loop (the drain takes everything queued by
/// then). ``LoopShard``'s messages and ``SyncSubscribers``' changes cross this way.
// @unchecked: the list and the flag are only touched under `lock`.
final class LoopInbox<Element>: @unchecked Sendable {
    private let lock = NIOLock()
    private var elements: [Element] = []
    private var scheduled = false

    /// Queues `elements`; true when the caller must schedule the drain (none was pending).
    func append(contentsOf elements: some Collection<Element>) -> Bool {
        self.lock.withLock {
            self.elements.append(contentsOf: elements)
            defer { self.scheduled = true }
            return !self.scheduled
        }
    }

    /// Marks a drain as scheduled without queueing anything; true when one already was.
    func markScheduled() -> Bool {
        self.lock.withLock {
            defer { self.scheduled = true }
            return self.scheduled
        }
    }

    /// Everything queued, taken by the drain as it starts: what comes after schedules the next.
    func take() -> [Element] {
        self.lock.withLock {
            self.scheduled = false
            var taken: [Element] = []
            swap(&taken, &self.elements)
            return taken
        }
    }
}
