/// A client's counters, as the browser client's `stats`.
public struct ChorusStats: Sendable, Hashable {
    /// Frames sent.
    public var messagesSent = 0
    /// Frames received.
    public var messagesReceived = 0
    /// UTF-8 bytes of the frames sent.
    public var bytesSent = 0
    /// UTF-8 bytes of the frames received.
    public var bytesReceived = 0
    /// Connections that followed a lost one.
    public var reconnections = 0
    /// Publishes waiting for their `ack`.
    public var queued = 0
    /// Resubscriptions after a gap that the hub answered `recovered: false` (messages may be missing).
    public var recoveryFailures = 0
    /// The last ping round trip; nil before the first.
    public var lastLatency: Duration?
    /// The mean of the last ten round trips; nil before the first.
    public var averageLatency: Duration? {
        guard !self.latencySamples.isEmpty else { return nil }
        return self.latencySamples.reduce(.zero, +) / self.latencySamples.count
    }

    /// The last ten round trips.
    var latencySamples: [Duration] = []

    /// An empty set of counters.
    public init() {}

    mutating func recordLatency(_ sample: Duration) {
        self.lastLatency = sample
        self.latencySamples.append(sample)
        if self.latencySamples.count > 10 { self.latencySamples.removeFirst() }
    }
}
