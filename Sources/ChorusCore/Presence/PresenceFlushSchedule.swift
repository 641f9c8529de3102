public import NIOCore

/// When presence diffs go out: at once for a change after a quiet tick (a lone join is seen
/// without waiting), and at most once per `interval` under a burst, so each peer gets at most
/// one diff per topic per interval whatever the rate of joins. Pure: time is passed in.
public struct PresenceFlushSchedule: Sendable {
    /// The tick: the least time between two flushes.
    public let interval: TimeAmount
    private var lastFlush: NIODeadline?
    private var scheduled = false

    /// A schedule flushing at most once per `interval`.
    public init(interval: TimeAmount) {
        self.interval = interval
    }

    /// A change arrived at `now`: when to flush, if a flush must be scheduled; nil when one
    /// already is.
    public mutating func changed(now: NIODeadline) -> NIODeadline? {
        guard !self.scheduled else { return nil }
        self.scheduled = true
        guard let lastFlush else { return now }
        return max(now, lastFlush + self.interval)
    }

    /// The scheduled flush ran at `now`.
    public mutating func flushed(now: NIODeadline) {
        self.scheduled = false
        self.lastFlush = now
    }
}
