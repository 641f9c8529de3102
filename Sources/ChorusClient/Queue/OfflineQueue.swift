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
    public private(set) var entries: [QueuedPublish]

    /// A queue holding `entries` (for example loaded from a file), of at most `limit`.
    public init(limit: Int = 100, policy: OverflowPolicy = .reject, entries: [QueuedPublish] = []) {
        self.limit = limit
        self.policy = policy
        self.entries = entries
    }

    /// How many publishes wait.
    public var count: Int { self.entries.count }

    /// Adds `publish` at the end, as ``policy`` allows.
    public mutating func enqueue(_ publish: QueuedPublish) -> Outcome {
        if self.entries.count < self.limit {
            self.entries.append(publish)
            return .queued
        }
        guard self.policy == .dropOldest, !self.entries.isEmpty else { return .rejected }
        let dropped = self.entries.removeFirst()
        self.entries.append(publish)
        return .droppedOldest(dropped)
    }

    /// Removes the entry with `key` (its `ack` came, or it was refused); false when there is none.
    @discardableResult
    public mutating func remove(key: String) -> Bool {
        guard let index = self.entries.firstIndex(where: { $0.key == key }) else { return false }
        self.entries.remove(at: index)
        return true
    }

    /// Removes every entry, returning them oldest first.
    public mutating func removeAll() -> [QueuedPublish] {
        defer { self.entries.removeAll() }
        return self.entries
    }
}
