import NIOCore

/// The event ids a single-node log appended within its idempotency window, in memory, as
/// JetStream keeps its duplicate window: a lookup costs no database read and a new id no
/// write to an index of random keys (one page of its own per id, which was most of what a
/// SQLite append wrote).
///
/// An id is kept as a 128-bit hash of it (two SipHash digests under this process's seed), not
/// as a string: 64 bytes an id in the two tables, which grow by doubling (about 140 bytes an id
/// measured, for a million). Two different ids share a key with a probability of about
/// n²/2¹²⁹ (10⁻²³ for a hundred million ids). Entries are kept in the
/// order they were remembered, so expiry and the removal of the oldest cost nothing per lookup.
public struct EventIDWindow: Sendable {
    /// What a remembered id answers a duplicate with.
    public struct Original: Sendable, Hashable {
        /// The original's place in the log.
        public var sequence: Int64
        /// The original's own timestamp.
        public var timestamp: Int64

        /// The receipt's two figures.
        public init(sequence: Int64, timestamp: Int64) {
            self.sequence = sequence
            self.timestamp = timestamp
        }
    }

    struct Key: Hashable {
        var high: UInt64
        var low: UInt64

        /// Of the id's UTF-8 bytes, as the log compares ids: Swift's own `String` hashing
        /// treats canonically equivalent ids ("é" and "e" + U+0301) as one.
        init(_ id: String) {
            var first = Hasher()
            first.combine(0 as UInt8)
            var second = Hasher()
            second.combine(1 as UInt8)
            var id = id
            id.withUTF8 { bytes in
                first.combine(bytes: UnsafeRawBufferPointer(bytes))
                second.combine(bytes: UnsafeRawBufferPointer(bytes))
            }
            self.high = UInt64(truncatingIfNeeded: first.finalize())
            self.low = UInt64(truncatingIfNeeded: second.finalize())
        }
    }

    private struct Remembered {
        var key: Key
        var seenAt: Int64
        var sequence: Int64
    }

    private var originals: [Key: Original] = [:]
    /// Every remembered id in the order remembered (seen times and sequences ascending).
    private var order = CircularBuffer<Remembered>()

    /// An empty window.
    public init() {}

    /// How many ids are remembered.
    public var count: Int { self.originals.count }

    /// The sequence of the oldest remembered id.
    public var oldestSequence: Int64? { self.order.first?.sequence }

    /// The original of `id`, if it is remembered.
    public func original(of id: String) -> Original? {
        self.originals[Key(id)]
    }

    /// Remembers `id`, first appended as `original` at `seenAt` (no earlier than any id
    /// remembered before it, so the window forgets in order). An id remembered again (appended
    /// anew after its window passed) answers with the new original.
    public mutating func remember(_ id: String, as original: Original, seenAt: Int64) {
        let key = Key(id)
        self.originals[key] = original
        self.order.append(Remembered(key: key, seenAt: seenAt, sequence: original.sequence))
    }

    /// Remembers `id` as appended before every id remembered so far, for a log read back newest
    /// first; an id already remembered keeps its newer original.
    public mutating func rememberEarlier(_ id: String, as original: Original, seenAt: Int64) {
        let key = Key(id)
        guard self.originals[key] == nil else { return }
        self.originals[key] = original
        self.order.prepend(Remembered(key: key, seenAt: seenAt, sequence: original.sequence))
    }

    /// Forgets the ids remembered before `time`; returns how many.
    @discardableResult
    public mutating func forget(seenBefore time: Int64) -> Int {
        self.drop { $0.seenAt < time }
    }

    /// The sequences of the oldest ids past the newest `count` (from the first to the last),
    /// at most `limit` of them; nil when there are no more than `count`.
    public func excess(over count: Int, limit: Int = .max) -> ClosedRange<Int64>? {
        let excess = min(self.order.count - count, limit)
        guard excess > 0 else { return nil }
        return self.order[self.order.startIndex].sequence...self.order[self.order.index(self.order.startIndex, offsetBy: excess - 1)].sequence
    }

    /// Forgets the ids remembered with a sequence up to `sequence`; returns how many.
    @discardableResult
    public mutating func forget(throughSequence sequence: Int64) -> Int {
        self.drop { $0.sequence <= sequence }
    }

    /// Removes entries from the front while `shouldDrop` says so; an entry whose key was
    /// remembered again later keeps the later original.
    private mutating func drop(while shouldDrop: (Remembered) -> Bool) -> Int {
        var forgotten = 0
        while let first = self.order.first, shouldDrop(first) {
            self.order.removeFirst()
            if self.originals[first.key]?.sequence == first.sequence {
                self.originals[first.key] = nil
                forgotten += 1
            }
        }
        return forgotten
    }
}
