import Histogram

/// What a publisher connection sends: stamped payloads over HTTP keep-alive, round robin over
/// the topics, at a pace (or flat out) until a deadline. Connection `source` publishes to
/// `endpoints[source % endpoints.count]` (the nodes of a cluster).
struct PublishPlan: Sendable {
    var endpoints: [EndpointTemplate]
    var serverProtocol: ServerProtocol
    var apiKey: String?
    var topics: Int
    var topicPrefix: String
    var payloadSize: Int
    /// How the payload goes to Chorus (`--payload`).
    var payloadEncoding = PayloadEncoding.json
    /// Nanoseconds between two publishes of this connection; 0 publishes as soon as the last one is answered.
    var intervalNanoseconds: UInt64
    var startNanoseconds: UInt64
    var deadlineNanoseconds: UInt64

    func endpoint(for source: Int) -> EndpointTemplate { self.endpoints[source % self.endpoints.count] }
}

/// What one publisher connection did.
struct PublishOutcome: Sendable {
    /// Publishes the server accepted, by topic index.
    var published: [Int]
    var errors = ErrorCounts()
    /// Time from sending a publish to its answer, in microseconds.
    var latency = LatencyHistogram.make()

    init(topics: Int) {
        self.published = Array(repeating: 0, count: topics)
    }

    mutating func merge(_ other: PublishOutcome) {
        for index in other.published.indices { self.published[index] += other.published[index] }
        self.errors.merge(other.errors)
        self.latency.add(other.latency)
    }
}
