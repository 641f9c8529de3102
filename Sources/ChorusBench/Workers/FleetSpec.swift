/// A share of a run's subscribers, held by one process: which indices, where they connect, and
/// how they read. Subscriber `i` takes topic `i % topics` and URL `i % endpoints.count` (the
/// nodes of a cluster); subscribers below `probes` parse every delivery (so probes spread over
/// the topics and the nodes).
public struct FleetSpec: Codable, Sendable {
    public var endpoints: [EndpointTemplate]
    public var serverProtocol: ServerProtocol
    public var token: String?
    public var firstIndex: Int
    public var count: Int
    public var topics: Int
    public var topicPrefix: String
    public var probes: Int
    public var subscribes: Bool
    public var sources: SourceAddresses
    public var threads: Int
    public var connectConcurrency: Int
    /// How often subscribers that only count read their sockets, in milliseconds (0: on every wakeup).
    public var drainIntervalMilliseconds: Int
    public var connectTimeoutMilliseconds: Int

    static func topic(prefix: String, index: Int) -> String { "\(prefix)\(index)" }

    /// Where subscriber `index` connects.
    func endpointIndex(of index: Int) -> Int { index % self.endpoints.count }

    func role(of index: Int) -> SubscriberRole {
        let topicIndex = index % self.topics
        let probe = index < self.probes
        return SubscriberRole(
            topicIndex: topicIndex, topic: Self.topic(prefix: self.topicPrefix, index: topicIndex), subscribes: self.subscribes,
            probe: probe, lazy: !probe && self.drainIntervalMilliseconds > 0, closeWhenSubscribed: false
        )
    }
}

/// One line a worker process writes to its parent: exactly one of the fields is set.
struct WorkerLine: Codable, Sendable {
    struct Ready: Codable, Sendable {
        var connected: Int
        var failed: Int
        var seconds: Double
        var errors: ErrorCounts
    }

    struct Progress: Codable, Sendable {
        var deliveries: Int
        var closedByServer: Int
    }

    struct Final: Codable, Sendable {
        var tally: TallySnapshot
        /// CPU seconds the worker used between `start` and `stop`.
        var windowCPUSeconds: Double
        var totalCPUSeconds: Double
    }

    var ready: Ready?
    var progress: Progress?
    var final: Final?
}
