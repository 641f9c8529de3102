import Crypto
import NIOConcurrencyHelpers
import NIOCore

/// The single-process ``IdempotencyStore``: a dictionary of keys, and their expiries in the
/// order they were committed (the window is the same for all, so that is expiry order too).
///
/// Keys are held as SHA-256 digests, so each costs the same whatever the length of its topic
/// and key. At most `maxKeys` keys are held: past it the oldest committed one is forgotten before its
/// window ends, and when every held key is still in flight a new one is published without
/// being remembered. A restart forgets every key.
final class MemoryIdempotencyStore: IdempotencyStore {
    typealias Answer = @Sendable (IdempotencyClaim) -> Void

    private enum Entry {
        /// Being committed; these retries wait for its outcome.
        case pending(waiters: [Answer])
        case committed(Hub.Receipt)
    }

    private struct State {
        var entries: [SHA256Digest: Entry] = [:]
        var expiries = CircularBuffer<(key: SHA256Digest, at: NIODeadline)>()
    }

    private let window: TimeAmount
    private let maxKeys: Int
    private let now: @Sendable () -> NIODeadline
    private let state = NIOLockedValueBox(State())

    init(window: Duration, maxKeys: Int, now: @escaping @Sendable () -> NIODeadline = NIODeadline.now) {
        self.window = TimeAmount(window)
        self.maxKeys = maxKeys
        self.now = now
    }

    var count: Int {
        self.state.withLockedValue { $0.entries.count }
    }

    func claim(_ key: IdempotencyKey, answer: @escaping Answer) {
        let key = Self.digest(of: key)
        let now = self.now()
        let claim = self.state.withLockedValue { state -> IdempotencyClaim? in
            Self.expire(&state, now: now)
            switch state.entries[key] {
            case .committed(let receipt):
                return .duplicate(receipt)
            case .pending(var waiters):
                waiters.append(answer)
                state.entries[key] = .pending(waiters: waiters)
                return nil
            case nil:
                if state.entries.count >= self.maxKeys, let oldest = state.expiries.popFirst() {
                    state.entries[oldest.key] = nil
                }
                if state.entries.count < self.maxKeys {
                    state.entries[key] = .pending(waiters: [])
                }
                return .publish
            }
        }
        if let claim { answer(claim) }
    }

    func finish(_ key: IdempotencyKey, receipt: Hub.Receipt?) {
        let key = Self.digest(of: key)
        let expiry = self.now() + self.window
        let (waiters, claim) = self.state.withLockedValue { state -> ([Answer], IdempotencyClaim) in
            guard case .pending(var waiters)? = state.entries[key] else { return ([], .publish) }
            if let receipt {
                state.entries[key] = .committed(receipt)
                state.expiries.append((key, expiry))
                return (waiters, .duplicate(receipt))
            }
            // Not remembered: the first retry waiting publishes in its place, the others wait for it.
            guard !waiters.isEmpty else {
                state.entries[key] = nil
                return ([], .publish)
            }
            let next = waiters.removeFirst()
            state.entries[key] = .pending(waiters: waiters)
            return ([next], .publish)
        }
        for waiter in waiters { waiter(claim) }
    }

    /// Length-prefixed, so no two keys share a digest by moving bytes between their parts.
    private static func digest(of key: IdempotencyKey) -> SHA256Digest {
        var hash = SHA256()
        for part in [key.publisher, key.topic, key.key] {
            withUnsafeBytes(of: UInt32(part.utf8.count).littleEndian) { hash.update(bufferPointer: $0) }
            hash.update(data: Array(part.utf8))
        }
        return hash.finalize()
    }

    private static func expire(_ state: inout State, now: NIODeadline) {
        while let oldest = state.expiries.first, oldest.at <= now {
            state.expiries.removeFirst()
            state.entries[oldest.key] = nil
        }
    }
}
