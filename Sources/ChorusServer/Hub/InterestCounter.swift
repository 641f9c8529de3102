/// Counts the holders of each interest, as a pure state machine: says when an interest starts
/// (its first holder) and ends (its last holder gone). Each event loop counts its subscriptions
/// and users with one, without a lock; the hub counts the loops holding each interest with
/// another, so only a loop's first and last holder cost a lock, and nothing on the fan-out path.
struct InterestCounter<Key: Hashable> {
    private var counts: [Key: Int] = [:]

    /// One more holder of `key`; true when it is the first (the interest starts).
    mutating func retain(_ key: Key) -> Bool {
        self.counts[key, default: 0] += 1
        return self.counts[key] == 1
    }

    /// One holder of `key` fewer; true when it was the last (the interest ends).
    mutating func release(_ key: Key) -> Bool {
        guard let count = self.counts[key] else { return false }
        if count > 1 {
            self.counts[key] = count - 1
            return false
        }
        self.counts[key] = nil
        return true
    }
}
