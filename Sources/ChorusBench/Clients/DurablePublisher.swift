import NIOCore

/// Tells an open durable publisher (``EventPublishHandler``, ``JetStreamPublishHandler``) to begin.
struct DurablePublishStart {}

/// What the durable publishers (and ``FrameWriter``) share: one publish in flight, the next sent when the
/// previous one is acknowledged (a closed loop, as an application waiting for its
/// acknowledgement publishes), each acknowledgement counted with its latency on the loop's
/// tally, until the tally says stop.
struct DurablePublishLoop {
    let source: Int
    let types: Int
    /// Ids are `PREFIX-SOURCE-SEQUENCE`: a prefix of its own per run keeps them apart from an
    /// earlier run's, which the server would take for retries.
    let idPrefix: String
    let payload: ByteBuffer
    let tally: LoopTally
    private(set) var sequence = 0
    /// When the publish in flight was sent (nil when none is).
    private(set) var sentAt: UInt64?

    init(source: Int, types: Int, payloadSize: Int, tally: LoopTally, idPrefix: String = "bench") {
        self.source = source
        self.idPrefix = idPrefix
        self.types = types
        self.tally = tally
        // The same data every time: what is measured is the durable path, not the encoding.
        self.payload = ByteBuffer(string: #"{"p":""# + String(repeating: "x", count: max(0, payloadSize - 8)) + #""}"#)
    }

    /// The next publish's number, type and idempotency key; nil once the run is over.
    mutating func next() -> (type: Int, id: String)? {
        guard self.tally.sending else { return nil }
        self.sequence += 1
        self.sentAt = NIODeadline.now().uptimeNanoseconds
        return ((self.source + self.sequence) % self.types, "\(self.idPrefix)-\(self.source)-\(self.sequence)")
    }

    /// The publish in flight was answered: acknowledged, or refused with `error`.
    mutating func answered(error: String?) {
        guard let sentAt = self.sentAt else { return }
        self.sentAt = nil
        if let error {
            self.tally.figures.errors.add(error)
        } else {
            self.tally.figures.deliveries += 1
            LatencyHistogram.record(&self.tally.figures.latency, sent: sentAt, received: NIODeadline.now().uptimeNanoseconds)
        }
    }
}
