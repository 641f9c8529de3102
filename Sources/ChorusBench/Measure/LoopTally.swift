import Histogram
import NIOCore

/// What the connections of one event loop have seen. Only that loop touches it, so counting a
/// delivery is a plain increment; the figures of all loops are merged at the end.
final class LoopTally {
    var figures = TallySnapshot()
    /// Subscribers that only count: read when the loop's drain tick says so, not on every wakeup.
    var lazyChannels: [any Channel] = []
    /// Whether echo connections still send new messages (false once the run's time is up).
    var sending = true

    func snapshot() -> TallySnapshot { self.figures }
}

/// What connections counted, to merge across loops and processes.
struct TallySnapshot: Codable, Sendable {
    var deliveries = 0
    var bytes = 0
    /// When the last delivery was read by a subscriber that reads at once.
    var lastDeliveryNanoseconds: UInt64 = 0
    /// Delivery (or round-trip) latency of the probes, in microseconds.
    var latency = LatencyHistogram.make()
    /// Stamped messages the probes received, by topic index.
    var probeReceived: [Int: Int] = [:]
    var reordered = 0
    var closedByServer = 0
    var errors = ErrorCounts()

    mutating func merge(_ other: TallySnapshot) {
        self.deliveries += other.deliveries
        self.bytes += other.bytes
        self.lastDeliveryNanoseconds = max(self.lastDeliveryNanoseconds, other.lastDeliveryNanoseconds)
        self.latency.add(other.latency)
        self.probeReceived.merge(other.probeReceived, uniquingKeysWith: +)
        self.reordered += other.reordered
        self.closedByServer += other.closedByServer
        self.errors.merge(other.errors)
    }
}

enum LatencyHistogram {
    /// Microseconds from 1 µs to 10 minutes, three significant digits.
    static func make() -> Histogram<UInt64> {
        Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
    }

    static func record(_ histogram: inout Histogram<UInt64>, sent: UInt64, received: UInt64) {
        let microseconds = received > sent ? (received - sent) / 1000 : 0
        _ = histogram.record(min(max(microseconds, 1), 600_000_000))
    }
}

/// Failures by message, at most a few distinct messages (a run that fails 10,000 times the same
/// way should say so in one line).
struct ErrorCounts: Codable, Sendable {
    private(set) var counts: [String: Int] = [:]
    private static let distinctLimit = 8

    var total: Int { self.counts.values.reduce(0, +) }

    mutating func add(_ message: String, count: Int = 1) {
        if self.counts[message] == nil && self.counts.count >= Self.distinctLimit {
            self.counts["(other errors)", default: 0] += count
        } else {
            self.counts[message, default: 0] += count
        }
    }

    mutating func merge(_ other: ErrorCounts) {
        for (message, count) in other.counts { self.add(message, count: count) }
    }
}
