/// The client's outbox: a bounded FIFO of publishes not yet acknowledged.
///
/// A publish stays here from the moment it is made until its `ack` arrives, so a connection
/// that drops with publishes in flight sends them again, in the same order and with the same
/// idempotency keys, on the next one. Pure: persistence is ``OutboxFile``'s job.
public struct OfflineQueue: Sendable {
    /// What happens to a publish made when the queue is full.
    public enum OverflowPolicy: String, Sendable, Hashable {
        /// The new publish fails with ``ChorusClientError/Code/queueFull``.
        case reject
        /// The oldest queued publish fails with ``ChorusClientError/Code/queueDropped`` to make room.
        case dropOldest
    }

    /// What ``enqueue(_:)`` did.
    public enum Outcome: Sendable, Hashable {
        /// Queued.
        case queued
        /// Refused: the queue is full.
        case rejected
        /// Queued, and the oldest entry was dropped to make room.
        case droppedOldest(QueuedPublish)
    }

    /// The most publishes held at once.
    public let limit: Int
    /// What a full queue does.
    public let policy: OverflowPolicy
    /// The entries, oldest first.
    public var entries: ArraySlice<QueuedPublish> { self.storage[self.head...] }

    // Acknowledgements come oldest first: removing at the front moves `head` instead of every
    // entry behind it, and the dead prefix is dropped once it is half the storage.
    private var storage: [QueuedPublish]
    private var head = 0

    /// A queue holding `entries` (for example loaded from a file), of at most `limit`.
    public init(limit: Int = 100, policy: OverflowPolicy = .reject, entries: [QueuedPublish] = []) {
        self.limit = limit
        self.policy = policy
        self.storage = entries
    }

    /// How many publishes wait.
    public var count: Int { self.storage.count - self.head }

    /// Adds `publish` at the end, as ``policy`` allows.
    public mutating func enqueue(_ publish: QueuedPublish) -> Outcome {
        if self.count < self.limit {
            self.storage.append(publish)
            return .queued
        }
        guard self.policy == .dropOldest, self.count > 0 else { return .rejected }
        let dropped = self.storage[self.head]
        self.removeEntry(at: self.head)
        self.storage.append(publish)
        return .droppedOldest(dropped)
    }

    /// Removes the entry with `key` (its `ack` came, or it was refused) and returns where it
    /// was, counted from the oldest; nil when there is none.
    @discardableResult
    public mutating func remove(key: String) -> Int? {
        guard let index = self.storage[self.head...].firstIndex(where: { $0.key == key }) else { return nil }
        let position = index - self.head
        self.removeEntry(at: index)
        return position
    }

    /// Removes every entry, returning them oldest first.
    public mutating func removeAll() -> [QueuedPublish] {
        defer {
            self.storage.removeAll()
            self.head = 0
        }
        return Array(self.entries)
    }

    private mutating func removeEntry(at index: Int) {
        guard index == self.head else {
            self.storage.remove(at: index)
            return
        }
        self.head += 1
        if self.head == self.storage.count {
            self.storage.removeAll(keepingCapacity: true)
            self.head = 0
        } else if self.head > 64, self.head * 2 > self.storage.count {
            self.storage.removeFirst(self.head)
            self.head = 0
        }
    }
}
