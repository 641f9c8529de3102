import Synchronization

/// Process-unique ids for connections and messages: a random per-process prefix (so ids from
/// different runs or nodes do not collide) and a counter.
final class Identifiers: Sendable {
    private let prefix: String
    private let counter = Atomic<UInt64>(0)

    init() {
        self.prefix = String(UInt32.random(in: UInt32(36 * 36 * 36 * 36 * 36)...UInt32.max), radix: 36)
    }

    func next() -> (number: UInt64, text: String) {
        let number = self.counter.add(1, ordering: .relaxed).newValue
        return (number, self.prefix + "-" + String(number, radix: 36))
    }

    /// The number of an id `next()` made in this process; nil for any other text.
    func number(of text: String) -> UInt64? {
        guard text.hasPrefix(self.prefix + "-") else { return nil }
        return UInt64(text.dropFirst(self.prefix.count + 1), radix: 36)
    }
}

/// A process-wide counter (1, 2, 3, …) safe to share between threads.
final class SequenceCounter: Sendable {
    private let value = Atomic<UInt64>(0)

    func next() -> UInt64 {
        self.value.add(1, ordering: .relaxed).newValue
    }
}
